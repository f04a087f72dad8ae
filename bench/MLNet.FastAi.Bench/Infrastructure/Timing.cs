using System.Diagnostics;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>Repeated wall-clock samples of one operation, in milliseconds.</summary>
internal sealed record Timing(IReadOnlyList<double> SamplesMs)
{
    public double MedianMs => Percentile(0.5);

    public double MinMs => SamplesMs.Min();

    public double MaxMs => SamplesMs.Max();

    public double MeanMs => SamplesMs.Average();

    public double P95Ms => Percentile(0.95);

    /// <summary>Linear interpolation between the closest ranks.</summary>
    public double Percentile(double q)
    {
        var sorted = SamplesMs.OrderBy(s => s).ToArray();
        double rank = q * (sorted.Length - 1);
        int low = (int)Math.Floor(rank), high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public override string ToString() =>
        $"median {MedianMs:F2} ms, min {MinMs:F2} ms, p95 {P95Ms:F2} ms over {SamplesMs.Count} runs";
}

/// <summary>Stopwatch measurement with warm-up runs that are thrown away.</summary>
internal static class Measure
{
    /// <summary>
    /// Runs <paramref name="body"/> <paramref name="warmup"/> times unmeasured, then <paramref name="repeats"/> times
    /// measured. <paramref name="settle"/> (e.g. a CUDA synchronize) runs before each clock reading, so that queued
    /// device work is counted where it was issued.
    /// </summary>
    public static Timing Repeat(int warmup, int repeats, Action body, Action? settle = null)
    {
        for (int i = 0; i < warmup; i++) body();
        settle?.Invoke();
        var samples = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            settle?.Invoke();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return new Timing(samples);
    }

    /// <summary>Times one run of <paramref name="body"/>.</summary>
    public static double Once(Action body, Action? settle = null)
    {
        settle?.Invoke();
        long start = Stopwatch.GetTimestamp();
        body();
        settle?.Invoke();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
