using System.Diagnostics;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>Resident memory of this process, as the runtime and (on Linux) the kernel report it.</summary>
internal readonly record struct ResidentMemory(long WorkingSetBytes, long? VmRssBytes)
{
    public static ResidentMemory Now()
    {
        using var process = Process.GetCurrentProcess();
        return new ResidentMemory(process.WorkingSet64, ReadVmRss());
    }

    public double WorkingSetMiB => WorkingSetBytes / 1048576.0;

    public double? VmRssMiB => VmRssBytes / 1048576.0;

    public override string ToString() =>
        $"WorkingSet64 {WorkingSetMiB:F1} MiB" + (VmRssMiB is { } rss ? $", VmRSS {rss:F1} MiB" : "");

    private static long? ReadVmRss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        foreach (var line in File.ReadLines(status))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "VmRSS:   123456 kB"
            return parts.Length >= 2 && long.TryParse(parts[1], out long kib) ? kib * 1024 : null;
        }
        return null;
    }
}
