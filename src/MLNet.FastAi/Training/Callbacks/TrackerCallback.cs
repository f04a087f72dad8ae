namespace MLNet.FastAi.Training.Callbacks;

/// <summary>
/// Base of callbacks that follow one epoch value (fastai's <c>TrackerCallback</c>): <c>valid_loss</c> by default, or
/// <c>train_loss</c>, or a metric name. Lower is better for losses and error rates, higher for other metrics.
/// </summary>
public abstract class TrackerCallback : Callback
{
    /// <inheritdoc/>
    public override bool RunsDuringLrFind => false;

    /// <summary>Creates a tracker.</summary>
    /// <param name="monitor">The value to follow: "valid_loss", "train_loss" or a metric name.</param>
    /// <param name="minDelta">Smallest change that counts as an improvement.</param>
    /// <param name="lowerIsBetter">Direction; null infers it from the name as fastai does.</param>
    protected TrackerCallback(string monitor, double minDelta, bool? lowerIsBetter)
    {
        if (minDelta < 0) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must not be negative.");
        Monitor = monitor;
        MinDelta = minDelta;
        _lowerIsBetter = lowerIsBetter;
    }

    private readonly bool? _lowerIsBetter;

    /// <inheritdoc/>
    public override int Order => 60;

    /// <summary>The followed value's name.</summary>
    public string Monitor { get; }

    /// <summary>Smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>The best value seen in this fit.</summary>
    public double Best { get; private set; }

    /// <summary>True when lower values are better.</summary>
    protected bool LowerIsBetter => _lowerIsBetter ?? (Monitor.Contains("loss") || Monitor.Contains("error"));

    /// <summary>Whether the last epoch improved on <see cref="Best"/> (set in <see cref="AfterEpoch"/>).</summary>
    protected bool Improved { get; private set; }

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        var known = Learner.Recorder.MetricNames.Skip(1).SkipLast(1).ToList();
        if (!known.Contains(Monitor))
            throw new ArgumentException($"{GetType().Name} monitors '{Monitor}', which this learner does not record; choose one of: {string.Join(", ", known)}.");
        Best = LowerIsBetter ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        double value = CurrentValue();
        Improved = !double.IsNaN(value) && (LowerIsBetter ? value < Best - MinDelta : value > Best + MinDelta);
        if (Improved) Best = value;
    }

    /// <summary>The monitored value of the last finished epoch.</summary>
    protected double CurrentValue()
    {
        var r = Learner.Recorder.Epochs[^1];
        return Monitor switch
        {
            "train_loss" => r.TrainLoss,
            "valid_loss" => r.ValidLoss,
            _ => r.Metrics.TryGetValue(Monitor, out var v) ? v : double.NaN,
        };
    }
}

/// <summary>Stops training when the monitored value has not improved for <c>patience</c> epochs (fastai's <c>EarlyStoppingCallback</c>).</summary>
public sealed class EarlyStoppingCallback : TrackerCallback
{
    private int _wait;

    /// <summary>Creates the callback (fastai defaults: valid_loss, minDelta 0, patience 1).</summary>
    public EarlyStoppingCallback(string monitor = "valid_loss", double minDelta = 0, int patience = 1, bool? lowerIsBetter = null)
        : base(monitor, minDelta, lowerIsBetter)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be at least 1.");
        Patience = patience;
    }

    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }

    /// <summary>The epoch after which training stopped, or null when it ran to the end.</summary>
    public int? StoppedAtEpoch { get; private set; }

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        base.BeforeFit();
        _wait = 0;
        StoppedAtEpoch = null;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        base.AfterEpoch();
        _wait = Improved ? 0 : _wait + 1;
        if (_wait < Patience) return;
        StoppedAtEpoch = Learner.Epoch;
        throw new CancelFitException($"no improvement in {Monitor} for {Patience} epoch(s)");
    }
}

/// <summary>
/// Saves the model whenever the monitored value improves and reloads the best one when training ends (fastai's
/// <c>SaveModelCallback</c>).
/// </summary>
public sealed class SaveModelCallback : TrackerCallback
{
    /// <summary>Creates the callback (fastai defaults: valid_loss, file "model", no per-epoch saves).</summary>
    public SaveModelCallback(string monitor = "valid_loss", double minDelta = 0, string fileName = "model", bool everyEpoch = false,
        bool atEnd = false, bool withOptimizer = false, bool? lowerIsBetter = null) : base(monitor, minDelta, lowerIsBetter)
    {
        FileName = fileName;
        EveryEpoch = everyEpoch;
        AtEnd = atEnd;
        WithOptimizer = withOptimizer;
    }

    /// <summary>Checkpoint name (in the learner's model folder).</summary>
    public string FileName { get; }

    /// <summary>Save after every epoch as <c>{FileName}_{epoch}</c> instead of only on improvement.</summary>
    public bool EveryEpoch { get; }

    /// <summary>Save at the end instead of reloading the best.</summary>
    public bool AtEnd { get; }

    /// <summary>Include the optimizer state (to resume training).</summary>
    public bool WithOptimizer { get; }

    /// <summary>Epoch of the best checkpoint saved in this fit.</summary>
    public int? BestEpoch { get; private set; }

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        base.BeforeFit();
        BestEpoch = null;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        base.AfterEpoch();
        if (EveryEpoch) Learner.Save($"{FileName}_{Learner.Epoch}", WithOptimizer);
        else if (Improved)
        {
            Learner.Save(FileName, WithOptimizer);
            BestEpoch = Learner.Epoch;
        }
    }

    /// <inheritdoc/>
    public override void AfterFit()
    {
        if (AtEnd) Learner.Save(FileName, WithOptimizer);
        else if (!EveryEpoch && BestEpoch is not null) Learner.Load(FileName, WithOptimizer);
    }
}

/// <summary>Divides every learning rate by <c>factor</c> when the monitored value stalls (fastai's <c>ReduceLROnPlateau</c>).</summary>
public sealed class ReduceLROnPlateauCallback : TrackerCallback
{
    private int _wait;

    /// <summary>Creates the callback (fastai defaults: valid_loss, patience 1, factor 10, no floor).</summary>
    public ReduceLROnPlateauCallback(string monitor = "valid_loss", double minDelta = 0, int patience = 1, double factor = 10, double minLr = 0, bool? lowerIsBetter = null)
        : base(monitor, minDelta, lowerIsBetter)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be at least 1.");
        if (!(factor > 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be greater than 1.");
        Patience = patience;
        Factor = factor;
        MinLr = minLr;
    }

    /// <summary>Epochs without improvement before reducing.</summary>
    public int Patience { get; }

    /// <summary>Divisor of the learning rates.</summary>
    public double Factor { get; }

    /// <summary>Floor of the learning rates.</summary>
    public double MinLr { get; }

    /// <summary>How many times the rates were reduced in this fit.</summary>
    public int Reductions { get; private set; }

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        base.BeforeFit();
        _wait = 0;
        Reductions = 0;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        base.AfterEpoch();
        _wait = Improved ? 0 : _wait + 1;
        if (_wait < Patience) return;
        _wait = 0;
        foreach (var h in Learner.Hypers) h.LearningRate = Math.Max(MinLr, h.LearningRate / Factor);
        Reductions++;
    }
}
