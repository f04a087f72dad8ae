namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>
/// Samples this process's anonymous and file-backed resident memory (<c>RssAnon</c>, <c>RssFile</c> in
/// /proc/self/status) every few milliseconds on a background thread and keeps the peaks: the pages of a memory-mapped
/// or read cache file are file-backed and the kernel can drop them, so only anonymous memory measures what a process
/// holds.
/// </summary>
internal sealed class PeakMemorySampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;

    public PeakMemorySampler(int intervalMs = 50)
    {
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                Sample();
                Thread.Sleep(intervalMs);
            }
        }) { IsBackground = true, Name = "peak memory sampler" };
        Sample();
        _thread.Start();
    }

    public long PeakAnonBytes { get; private set; }

    public long PeakFileBytes { get; private set; }

    /// <summary>Starts a new window: the peaks become the current values.</summary>
    public void Reset()
    {
        lock (this)
        {
            PeakAnonBytes = PeakFileBytes = 0;
        }
        Sample();
    }

    private void Sample()
    {
        var (anon, file) = Read();
        lock (this)
        {
            PeakAnonBytes = Math.Max(PeakAnonBytes, anon);
            PeakFileBytes = Math.Max(PeakFileBytes, file);
        }
    }

    public static (long Anon, long File) Read()
    {
        long anon = 0, file = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kib(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kib(line);
        }
        return (anon, file);

        static long Kib(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
