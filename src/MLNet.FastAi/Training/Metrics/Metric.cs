using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training.Metrics;

/// <summary>
/// A validation metric computed over the whole validation set each epoch (fastai's <c>AccumMetric</c>/<c>AvgMetric</c>).
/// Accumulation stays on the device; the value is read once per epoch.
/// </summary>
public abstract class Metric
{
    /// <summary>Column name in the epoch table (fastai's metric names: accuracy, error_rate, ...).</summary>
    public abstract string Name { get; }

    /// <summary>True when larger values are better (for early stopping and best-model tracking).</summary>
    public virtual bool HigherIsBetter => true;

    internal abstract void Reset(int classes, Device device);

    /// <summary>Adds a batch: <paramref name="logits"/> [B, K] and integer <paramref name="targets"/> [B].</summary>
    internal abstract void Accumulate(Tensor logits, Tensor targets);

    /// <summary>The value over everything accumulated since <see cref="Reset"/> (reads the device).</summary>
    internal abstract double Compute();

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>Metrics derived from the confusion matrix, accumulated with one <c>bincount</c> per batch.</summary>
internal abstract class ConfusionMetric : Metric
{
    private Tensor? _counts;
    private int _classes;

    internal override void Reset(int classes, Device device)
    {
        _counts?.Dispose();
        _classes = classes;
        _counts = zeros(classes * classes, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
    }

    internal override void Accumulate(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var predicted = logits.argmax(1);
        var cell = targets * _classes + predicted;
        _counts!.add_(cell.bincount(null, _classes * _classes));
    }

    internal override double Compute()
    {
        long[] flat;
        using (var counts = _counts!.cpu()) flat = counts.data<long>().ToArray();  // cpu() makes a new tensor handle even on the CPU
        var matrix = new long[_classes, _classes];
        for (int i = 0; i < flat.Length; i++) matrix[i / _classes, i % _classes] = flat[i];
        return FromConfusion(matrix);
    }

    /// <summary>The metric from a confusion matrix whose rows are actual and columns predicted classes.</summary>
    protected abstract double FromConfusion(long[,] matrix);
}
