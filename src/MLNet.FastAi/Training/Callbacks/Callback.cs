namespace MLNet.FastAi.Training.Callbacks;

/// <summary>
/// The extension point of the training loop (fastai's <c>Callback</c>): override the events you need. The learner
/// calls every callback's handler for an event in ascending <see cref="Order"/>. A handler may stop part of the loop by
/// throwing <see cref="CancelFitException"/>, <see cref="CancelEpochException"/>, <see cref="CancelTrainException"/>,
/// <see cref="CancelValidateException"/>, <see cref="CancelBatchException"/>, <see cref="CancelBackwardException"/> or
/// <see cref="CancelStepException"/>; the part's <c>AfterCancel…</c> event follows, then its <c>After…</c> event, as in
/// fastai. In <see cref="BeforeBatch"/> a callback may replace the batch (<see cref="Learner.Images"/>,
/// <see cref="Learner.Targets"/>: fastai's <c>xb</c>, <c>yb</c>), and at any time the loss
/// (<see cref="Learner.LossFunction"/>), as <see cref="MixUp"/> and <see cref="CutMix"/> do.
/// </summary>
/// <remarks>
/// Batch-level events run on the training thread between GPU kernels; keep them cheap and avoid reading tensor values
/// (<c>item()</c>) unless needed, since that waits for the device. Epoch-level values are in <see cref="Learner.Recorder"/>.
/// </remarks>
public abstract class Callback
{
    /// <summary>The learner this callback is attached to (set when added).</summary>
    public Learner Learner { get; internal set; } = null!;

    /// <summary>Sort key: lower runs first (fastai: TrainEval −10, Recorder 50, trackers 60, progress 70).</summary>
    public virtual int Order => 0;

    /// <summary>Display name.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>
    /// Whether the callback also runs during <see cref="LrFinder.LrFind"/>'s probe fit. Trackers, loggers and the
    /// progress table opt out, as fastai's do: the probe's epochs are not real training.
    /// </summary>
    public virtual bool RunsDuringLrFind => true;

    /// <summary>Whether this callback makes the fit a probe (lr_find's), during which only callbacks that <see cref="RunsDuringLrFind"/> run.</summary>
    internal virtual bool IsProbe => false;

    /// <summary>Before the first epoch of a <c>Fit</c>.</summary>
    public virtual void BeforeFit() { }
    /// <summary>At the start of each epoch.</summary>
    public virtual void BeforeEpoch() { }
    /// <summary>Before the training phase of an epoch.</summary>
    public virtual void BeforeTrain() { }
    /// <summary>Before each batch (training or validation).</summary>
    public virtual void BeforeBatch() { }
    /// <summary>After the forward pass; <see cref="Learner.Predictions"/> is set.</summary>
    public virtual void AfterPred() { }
    /// <summary>After the loss is computed; <see cref="Learner.Loss"/> is set.</summary>
    public virtual void AfterLoss() { }
    /// <summary>Before <c>backward()</c> (training only).</summary>
    public virtual void BeforeBackward() { }
    /// <summary>After <c>backward()</c>, before the optimizer step (training only).</summary>
    public virtual void BeforeStep() { }
    /// <summary>After the optimizer step (training only).</summary>
    public virtual void AfterStep() { }
    /// <summary>After each batch.</summary>
    public virtual void AfterBatch() { }
    /// <summary>After the training phase of an epoch.</summary>
    public virtual void AfterTrain() { }
    /// <summary>Before the validation phase of an epoch.</summary>
    public virtual void BeforeValidate() { }
    /// <summary>After the validation phase; epoch metrics are available.</summary>
    public virtual void AfterValidate() { }
    /// <summary>At the end of each epoch; the Recorder has the epoch's values.</summary>
    public virtual void AfterEpoch() { }
    /// <summary>After the last epoch, also when the fit was cancelled or failed.</summary>
    public virtual void AfterFit() { }
    /// <summary>When the fit stopped early by <see cref="CancelFitException"/> or cancellation.</summary>
    public virtual void AfterCancelFit() { }
    /// <summary>When an epoch was cut short by <see cref="CancelEpochException"/>; <see cref="AfterEpoch"/> follows.</summary>
    public virtual void AfterCancelEpoch() { }
    /// <summary>When a training phase was cut short by <see cref="CancelTrainException"/>; <see cref="AfterTrain"/> follows.</summary>
    public virtual void AfterCancelTrain() { }
    /// <summary>When a validation phase was cut short by <see cref="CancelValidateException"/>; <see cref="AfterValidate"/> follows.</summary>
    public virtual void AfterCancelValidate() { }
    /// <summary>When a batch was cut short by <see cref="CancelBatchException"/>; <see cref="AfterBatch"/> follows.</summary>
    public virtual void AfterCancelBatch() { }
    /// <summary>When <c>backward()</c> was skipped by <see cref="CancelBackwardException"/> (thrown in <see cref="BeforeBackward"/>).</summary>
    public virtual void AfterCancelBackward() { }
    /// <summary>When the optimizer step was skipped by <see cref="CancelStepException"/> (thrown in <see cref="BeforeStep"/>).</summary>
    public virtual void AfterCancelStep() { }
}

/// <summary>Stops the whole fit (fastai's <c>CancelFitException</c>).</summary>
public sealed class CancelFitException : Exception
{
    /// <summary>Creates the exception with a reason for logs.</summary>
    public CancelFitException(string reason = "fit cancelled") : base(reason) { }
}

/// <summary>Skips the rest of the current epoch.</summary>
public sealed class CancelEpochException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelEpochException(string reason = "epoch cancelled") : base(reason) { }
}

/// <summary>Skips the rest of the training phase of the current epoch.</summary>
public sealed class CancelTrainException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelTrainException(string reason = "training phase cancelled") : base(reason) { }
}

/// <summary>Skips the validation phase of the current epoch.</summary>
public sealed class CancelValidateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelValidateException(string reason = "validation cancelled") : base(reason) { }
}

/// <summary>Skips the rest of the current batch (no backward or step).</summary>
public sealed class CancelBatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelBatchException(string reason = "batch cancelled") : base(reason) { }
}

/// <summary>Skips <c>backward()</c> for the current batch (and so its step); thrown in <see cref="Callback.BeforeBackward"/>.</summary>
public sealed class CancelBackwardException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelBackwardException(string reason = "backward cancelled") : base(reason) { }
}

/// <summary>Skips the optimizer step for the current batch (gradients are still cleared); thrown in <see cref="Callback.BeforeStep"/>.</summary>
public sealed class CancelStepException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelStepException(string reason = "step cancelled") : base(reason) { }
}
