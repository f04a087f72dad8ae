using MLNet.FastAi.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training.Metrics;

/// <summary>
/// A validation metric computed over the whole validation set each epoch (fastai's <c>AccumMetric</c>/<c>AvgMetric</c>).
/// Accumulation stays on the device; the value is read once per epoch. Derive from it for a custom metric and pass a
/// factory in <see cref="VisionLearnerOptions.Metrics"/>.
/// </summary>
public abstract class Metric
{
    /// <summary>Column name in the epoch table (fastai's metric names: accuracy, error_rate, ...).</summary>
    public abstract string Name { get; }

    /// <summary>True when larger values are better (for early stopping and best-model tracking).</summary>
    public virtual bool HigherIsBetter => true;

    /// <summary>Starts a new accumulation (before each validation pass) for <paramref name="classes"/> classes on <paramref name="device"/>.</summary>
    public abstract void Reset(int classes, Device device);

    /// <summary>
    /// Adds a batch: <paramref name="logits"/> [B, K] and integer <paramref name="targets"/> [B]. Keep the work on the
    /// device; tensors made here belong to the batch's dispose scope unless detached.
    /// </summary>
    public abstract void Accumulate(Tensor logits, Tensor targets);

    /// <summary>The value over everything accumulated since <see cref="Reset"/> (may read the device).</summary>
    public abstract double Compute();

    /// <summary>Frees the accumulator's device memory (when the learner is disposed).</summary>
    public virtual void Release() { }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>Metrics derived from the confusion matrix, accumulated with one <c>bincount</c> per batch.</summary>
internal abstract class ConfusionMetric : Metric
{
    private Tensor? _counts;
    private int _classes;

    public override void Reset(int classes, Device device)
    {
        _counts?.Dispose();
        _classes = classes;
        _counts = zeros(classes * classes, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
    }

    public override void Release()
    {
        _counts?.Dispose();
        _counts = null;
    }

    public override void Accumulate(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var predicted = logits.argmax(1);
        var cell = targets * _classes + predicted;
        _counts!.add_(cell.bincount(null, _classes * _classes), KeptScalars.One);
    }

    public override double Compute()
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
