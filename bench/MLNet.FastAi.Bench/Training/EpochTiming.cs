using MLNet.FastAi.Bench.Infrastructure;

namespace MLNet.FastAi.Bench.Training;

/// <summary>One measured epoch: training phase, whole epoch (training and validation), and memory afterwards.</summary>
internal sealed record EpochTiming(int Epoch, double TrainMs, double EpochMs, long TrainImages, ResidentMemory Memory)
{
    public double TrainImagesPerSecond => TrainImages / (TrainMs / 1000);

    /// <summary>Training images per second of the whole epoch, validation included (what a user waits for).</summary>
    public double EpochImagesPerSecond => TrainImages / (EpochMs / 1000);
}

/// <summary>Summaries of several epochs.</summary>
internal static class EpochTimings
{
    /// <summary>
    /// The epochs that represent steady state: all but the first when there are at least two (the first pays for
    /// JIT compilation, allocator growth and cuDNN autotuning).
    /// </summary>
    public static IReadOnlyList<EpochTiming> Steady(IReadOnlyList<EpochTiming> epochs) => epochs.Count >= 2 ? epochs.Skip(1).ToList() : epochs;

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
