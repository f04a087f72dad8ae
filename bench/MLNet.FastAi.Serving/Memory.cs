namespace MLNet.FastAi.Serving;

/// <summary>What the process holds now: resident memory, its anonymous part (heaps), and the managed heap.</summary>
internal readonly record struct Memory(double RssMiB, double AnonMiB, double ManagedMiB)
{
    public static Memory Now()
    {
        double rss = 0, anon = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = KiB(line) / 1024;
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = KiB(line) / 1024;
        }
        return new Memory(rss, anon, GC.GetTotalMemory(forceFullCollection: false) / 1048576.0);
    }

    private static double KiB(string line) => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    public override string ToString() => $"RSS {RssMiB:F0} MiB (anonymous {AnonMiB:F0}, managed heap {ManagedMiB:F0})";
}
