using MLNet.FastAi.Internal;
using System.Diagnostics;
using MLNet.FastAi.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>One row of the epoch table.</summary>
/// <param name="Epoch">Zero-based epoch index within its fit.</param>
/// <param name="TrainLoss">Smoothed training loss at the end of the epoch (fastai's train_loss).</param>
/// <param name="ValidLoss">Mean validation loss, or NaN when validation was skipped.</param>
/// <param name="Metrics">Metric values by name, in the learner's metric order.</param>
/// <param name="Duration">Wall time of the epoch.</param>
public sealed record EpochRecord(int Epoch, double TrainLoss, double ValidLoss, IReadOnlyDictionary<string, double> Metrics, TimeSpan Duration)
{
    /// <summary>Which fit of the learner the epoch belongs to, counting from 0 (fine_tune runs two).</summary>
    public int FitNumber { get; init; }
}

/// <summary>
/// Records what training did (fastai's <c>Recorder</c>): per training batch the learning rate and momentum of every
/// group and the smoothed loss; per epoch the training and validation losses, metrics and time. Batch losses stay on
/// the device until someone reads them, so recording never waits for the GPU.
/// </summary>
public sealed class Recorder : Callback
{
    private readonly List<Tensor> _pendingLosses = new();
    private readonly List<double> _rawLosses = new();
    private readonly List<double> _smoothLosses = new();
    private readonly List<double[]> _learningRates = new();
    private readonly List<double[]> _momentums = new();
    private readonly List<int> _epochEnds = new();
    private readonly List<EpochRecord> _epochs = new();
    private readonly List<EpochRecord> _history = new();
    private int _fits = -1;
    private readonly Stopwatch _epochClock = new();
    private double _average;
    private int _count;
    private Tensor? _validLossSum;
    private long _validCount;

    /// <summary>Creates a recorder with fastai's smoothing factor.</summary>
    public Recorder(double beta = 0.98)
    {
        if (!(beta is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be in [0, 1).");
        Beta = beta;
    }

    /// <inheritdoc/>
    public override int Order => 50;

    /// <summary>Exponential smoothing factor of the training loss (fastai 0.98).</summary>
    public double Beta { get; }

    /// <summary>Stop the fit with an error naming the epoch and batch when a training loss is NaN or infinite.</summary>
    public bool StopOnNonFiniteLoss { get; set; } = true;

    /// <summary>True during an lr_find probe, whose epochs are not training history.</summary>
    internal bool Probing { get; set; }

    /// <summary>Smoothed (debiased exponential moving average) training loss per training batch.</summary>
    public IReadOnlyList<double> Losses { get { Flush(); return _smoothLosses; } }

    /// <summary>Raw training loss per training batch.</summary>
    public IReadOnlyList<double> RawLosses { get { Flush(); return _rawLosses; } }

    /// <summary>Learning rate of the last parameter group per training batch (fastai's <c>recorder.lrs</c>).</summary>
    public IReadOnlyList<double> LearningRates => _learningRates.Select(l => l[^1]).ToList();

    /// <summary>Learning rate of every parameter group per training batch.</summary>
    public IReadOnlyList<double[]> GroupLearningRates => _learningRates;

    /// <summary>Momentum (Adam β1) of the last group per training batch.</summary>
    public IReadOnlyList<double> Momentums => _momentums.Select(m => m[^1]).ToList();

    /// <summary>Momentum of every parameter group per training batch.</summary>
    public IReadOnlyList<double[]> GroupMomentums => _momentums;

    /// <summary>Number of training batches recorded at the end of each epoch (fastai's <c>recorder.iters</c>).</summary>
    public IReadOnlyList<int> EpochEndIterations => _epochEnds;

    /// <summary>The epoch table of the last fit (fastai's <c>recorder.values</c>).</summary>
    public IReadOnlyList<EpochRecord> Epochs => _epochs;

    /// <summary>Every epoch of every fit of the learner, oldest first (lr_find probes excluded).</summary>
    public IReadOnlyList<EpochRecord> History => _history;

    /// <summary>Column names of the epoch table: epoch, train_loss, valid_loss, metrics..., time.</summary>
    public IReadOnlyList<string> MetricNames =>
        new[] { "epoch", "train_loss", "valid_loss" }.Concat(Learner.Metrics.Select(m => m.Name)).Append("time").ToList();

    /// <summary>The smoothed training loss now (reads the device).</summary>
    public double SmoothLoss { get { Flush(); return _count == 0 ? double.NaN : _average / (1 - Math.Pow(Beta, _count)); } }

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        Clear();
        _fits++;
    }

    /// <summary>Forgets everything recorded.</summary>
    public void Clear()
    {
        DisposePending();
        _rawLosses.Clear(); _smoothLosses.Clear(); _learningRates.Clear(); _momentums.Clear(); _epochEnds.Clear(); _epochs.Clear();
        _average = 0;
        _count = 0;
    }

    /// <inheritdoc/>
    public override void BeforeEpoch() => _epochClock.Restart();

    /// <inheritdoc/>
    public override void BeforeValidate()
    {
        _validLossSum?.Dispose();
        _validLossSum = zeros(1, device: Learner.Device).DetachFromDisposeScope();
        _validCount = 0;
    }

    /// <inheritdoc/>
    public override void AfterBatch()
    {
        var loss = Learner.Loss;
        if (loss is null) return;
        if (Learner.IsTraining)
        {
            _pendingLosses.Add(loss.detach().DetachFromDisposeScope());
            _learningRates.Add(Learner.Hypers.Select(h => h.LearningRate).ToArray());
            _momentums.Add(Learner.Hypers.Select(h => h.Momentum).ToArray());
        }
        else if (_validLossSum is not null && Learner.Targets is { } targets)
        {
            long n = targets.shape[0];
            _validLossSum.add_(loss.detach() * n, KeptScalars.One);
            _validCount += n;
        }
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        Flush();
        _epochEnds.Add(_smoothLosses.Count);
        double valid = double.NaN;
        if (_validCount > 0 && _validLossSum is not null)
            using (var sum = _validLossSum.cpu()) valid = sum.item<float>() / _validCount;  // cpu() makes a new tensor handle even on the CPU
        var metrics = Learner.Metrics.ToDictionary(m => m.Name, m => Learner.MetricValues.TryGetValue(m.Name, out var v) ? v : double.NaN);
        var record = new EpochRecord(Learner.Epoch, SmoothLoss, valid, metrics, _epochClock.Elapsed) { FitNumber = Math.Max(0, _fits) };
        _epochs.Add(record);
        if (!Probing) _history.Add(record);
        _validCount = 0;
    }

    /// <inheritdoc/>
    public override void AfterFit()
    {
        Flush();
        _validLossSum?.Dispose();
        _validLossSum = null;
    }

    /// <summary>Copies pending batch losses from the device and updates the smoothed series.</summary>
    public void Flush()
    {
        if (_pendingLosses.Count == 0) return;
        float[] values;
        using (var stacked = stack(_pendingLosses))
        using (var onCpu = stacked.cpu())
            values = onCpu.data<float>().ToArray();
        int first = _rawLosses.Count;
        DisposePending();
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (StopOnNonFiniteLoss && !double.IsFinite(v))
                throw new TrainingDivergedException(EpochOf(first + i), first + i - (_epochEnds.Count > 0 ? _epochEnds[^1] : 0), v);
            _rawLosses.Add(v);
            _average = Beta * _average + (1 - Beta) * v;
            _count++;
            _smoothLosses.Add(_average / (1 - Math.Pow(Beta, _count)));
        }
    }

    private int EpochOf(int iteration) => _epochEnds.Count(e => e <= iteration);

    private void DisposePending()
    {
        foreach (var t in _pendingLosses) t.Dispose();
        _pendingLosses.Clear();
    }
}

/// <summary>Training produced a NaN or infinite loss; the fit stopped.</summary>
public sealed class TrainingDivergedException : Exception
{
    internal TrainingDivergedException(int epoch, int batch, double loss)
        : base($"Training diverged: the loss was {loss} at epoch {epoch}, batch {batch}. Lower the learning rate (try LrFind). " +
               "Checkpoints written before this point (SaveModelCallback) are untouched.")
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
    }

    /// <summary>Zero-based epoch of the first non-finite loss.</summary>
    public int Epoch { get; }

    /// <summary>Zero-based batch within that epoch.</summary>
    public int Batch { get; }

    /// <summary>The loss value.</summary>
    public double Loss { get; }
}
