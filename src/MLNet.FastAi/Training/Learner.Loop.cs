using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    private List<Callback> _active = new();
    private CancellationToken _cancellation;
    private bool _inPhase;

    /// <summary>Zero-based epoch of the current fit.</summary>
    public int Epoch { get; private set; }

    /// <summary>Number of epochs of the current fit.</summary>
    public int EpochCount { get; private set; }

    /// <summary>Zero-based batch index within the current phase.</summary>
    public int Iteration { get; private set; }

    /// <summary>Number of batches in the current phase.</summary>
    public int IterationCount { get; private set; }

    /// <summary>Training batches done since the fit began (fastai's <c>train_iter</c>).</summary>
    public int TrainIteration { get; private set; }

    /// <summary>Fraction of the fit's training batches done (fastai's <c>pct_train</c>), what schedules follow.</summary>
    public double PctTrain { get; private set; }

    /// <summary>True during the training phase, false during validation.</summary>
    public bool IsTraining { get; private set; }

    /// <summary>True while a fit is running.</summary>
    public bool IsFitting { get; private set; }

    /// <summary>
    /// The current batch's inputs (normalized, augmented): fastai's <c>xb</c>. A callback may replace them in
    /// <see cref="Callback.BeforeBatch"/> (the loop disposes the batch's tensors when it ends).
    /// </summary>
    public Tensor? Images { get; set; }

    /// <summary>The current batch's class indices: fastai's <c>yb</c>; a callback may replace them in <see cref="Callback.BeforeBatch"/>.</summary>
    public Tensor? Targets { get; set; }

    /// <summary>
    /// The loss of predictions against targets (fastai's <c>loss_func</c>): cross-entropy with
    /// <see cref="VisionLearnerOptions.LabelSmoothing"/> unless a callback replaces it, as <see cref="MixUp"/> does for
    /// its training phases. Validation, <c>GetPreds</c> and interpretation use it too.
    /// </summary>
    public LossFunction LossFunction { get; set; }

    /// <summary>The current batch's logits.</summary>
    public Tensor? Predictions { get; set; }

    /// <summary>The current batch's mean loss (a device scalar; reading it waits for the device).</summary>
    public Tensor? Loss { get; set; }

    /// <summary>
    /// The tensor <c>backward()</c> is called on (fastai's <c>loss_grad</c>): <see cref="Loss"/> unless a callback
    /// rescales it in <see cref="Callback.AfterLoss"/>, as gradient accumulation does.
    /// </summary>
    public Tensor? LossToBackpropagate { get; set; }

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs at a constant learning rate (fastai's <c>fit</c>; the blog's
    /// <c>learn.fit(5, 1e-3)</c> is <c>Fit(5, 1e-3)</c>).
    /// </summary>
    /// <param name="epochs">Number of epochs (at least 1).</param>
    /// <param name="lr">A rate for all groups, or a slice; null uses <see cref="VisionLearnerOptions.LearningRate"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (named); nothing was changed or trained.</exception>
    /// <param name="weightDecay">Weight decay; null uses <see cref="VisionLearnerOptions.WeightDecay"/>.</param>
    /// <param name="callbacks">Callbacks for this fit only.</param>
    /// <param name="resetOptimizer">Clear the optimizer's moment state first.</param>
    /// <param name="cancellation">Stops the fit within one batch; <see cref="OperationCanceledException"/> is thrown after cleanup.</param>
    /// <param name="startEpoch">
    /// Resume at this epoch (fastai's <c>start_epoch</c>): after loading a checkpoint saved with its optimizer at the end
    /// of epoch <c>startEpoch − 1</c>, the remaining epochs see the same shuffles, schedule positions and random draws as
    /// an uninterrupted run.
    /// </param>
    public void Fit(int epochs, LearningRates? lr = null, double? weightDecay = null, IEnumerable<Callback>? callbacks = null,
        bool resetOptimizer = false, CancellationToken cancellation = default, int startEpoch = 0)
    {
        ArgumentChecks.Epochs(epochs, nameof(epochs));
        if (startEpoch < 0 || startEpoch >= epochs) throw new ArgumentOutOfRangeException(nameof(startEpoch), startEpoch, $"startEpoch must be in [0, {epochs}).");
        ArgumentChecks.Rates(lr, nameof(lr));
        ArgumentChecks.NonNegativeFinite(weightDecay, nameof(weightDecay));
        using var use = Use(nameof(Fit));
        RefuseNestedFit();
        if (resetOptimizer) Optimizer.Rebuild();
        foreach (var h in Hypers) h.WeightDecay = weightDecay ?? Options.WeightDecay;
        SetLearningRates(lr ?? LearningRates.Single(Options.LearningRate));

        var extra = callbacks?.ToList() ?? new List<Callback>();
        foreach (var cb in extra) cb.Learner = this;
        bool probing = extra.Any(c => c.IsProbe);
        _active = _callbacks.Concat(extra).Where(c => !probing || c.RunsDuringLrFind).OrderBy(c => c.Order).ToList();
        _cancellation = cancellation;
        EpochCount = epochs;
        RunFit(startEpoch);
    }

    private void RunFit(int startEpoch)
    {
        RefuseTrainingThatCannotFit();
        using var train = Data.Loader(Data.Train, Device, training: true, Normalization);
        // Without validation images (the ML.NET estimator's ValidationFraction = 0) epochs only train; valid_loss and
        // the metrics stay NaN in the recorder.
        using var valid = Data.Valid.Count > 0 ? Data.Loader(Data.Valid, Device, training: false, Normalization) : null;
        // Set only now that nothing can throw before the try below, whose finally clears it.
        IsFitting = true;
        Epoch = startEpoch;
        TrainIteration = startEpoch * train.BatchCount;
        PctTrain = (double)startEpoch / EpochCount;
        bool cancelled = false;
        try
        {
            Raise(c => c.BeforeFit());
            for (int e = startEpoch; e < EpochCount; e++)
            {
                Epoch = e;
                // An epoch whose validation is skipped or cut short must not report the previous epoch's metrics.
                _metricValues.Clear();
                try
                {
                    Raise(c => c.BeforeEpoch());
                    RunPhase(train, training: true);
                    if (valid is not null) RunPhase(valid, training: false);
                }
                catch (CancelEpochException)
                {
                    Raise(c => c.AfterCancelEpoch());
                }
                Raise(c => c.AfterEpoch());
            }
        }
        catch (CancelFitException)
        {
            cancelled = true;
        }
        catch (OperationCanceledException)
        {
            Raise(c => c.AfterCancelFit());
            throw;
        }
        finally
        {
            try
            {
                if (cancelled) Raise(c => c.AfterCancelFit());
                Raise(c => c.AfterFit());
            }
            finally
            {
                ClearBatchState();
                IsFitting = false;
                _active = new List<Callback>();
            }
        }
    }

    private void RunPhase(BatchLoader loader, bool training)
    {
        _inPhase = true;
        IsTraining = training;
        IterationCount = loader.BatchCount;
        if (training)
        {
            _model.train();
            PctTrain = (double)Epoch / EpochCount;
        }
        else
        {
            _model.eval();
            foreach (var m in Metrics) m.Reset(Data.ClassCount, Device);
        }
        try
        {
            Raise(c => { if (training) c.BeforeTrain(); else c.BeforeValidate(); });
            using var gradients = training ? null : no_grad();
            using var batches = loader.Batches(Epoch).GetEnumerator();
            for (int i = 0; ; i++)
            {
                // A scope per batch frees every tensor the batch made, including those the loader made for it.
                using var scope = NewDisposeScope();
                _cancellation.ThrowIfCancellationRequested();
                if (!batches.MoveNext()) break;
                Iteration = i;
                RunBatch(batches.Current, training);
            }
            if (!training)
                foreach (var m in Metrics) _metricValues[m.Name] = m.Compute();
        }
        catch (CancelTrainException) when (training)
        {
            Raise(c => c.AfterCancelTrain());
        }
        catch (CancelValidateException) when (!training)
        {
            Raise(c => c.AfterCancelValidate());
        }
        finally
        {
            ClearBatchState();
            _inPhase = false;
        }
        Raise(c => { if (training) c.AfterTrain(); else c.AfterValidate(); });
    }

    private void RunBatch(Batch batch, bool training)
    {
        Images = batch.Images;
        Targets = batch.Labels;
        try
        {
            Raise(c => c.BeforeBatch());
            Predictions = _model.call(Images!);
            Raise(c => c.AfterPred());
            Loss = LossFunction(Predictions, Targets!, nn.Reduction.Mean);
            LossToBackpropagate = Loss;
            Raise(c => c.AfterLoss());
            if (training) BackwardAndStep();
            else
                foreach (var m in Metrics) m.Accumulate(Predictions, Targets!);
        }
        catch (CancelBatchException)
        {
            Raise(c => c.AfterCancelBatch());
        }
        Raise(c => c.AfterBatch());
        if (training)
        {
            TrainIteration++;
            PctTrain += 1.0 / (IterationCount * EpochCount);
        }
    }

    private void BackwardAndStep()
    {
        try
        {
            Raise(c => c.BeforeBackward());
            (LossToBackpropagate ?? Loss)!.backward();
        }
        catch (CancelBackwardException)
        {
            Raise(c => c.AfterCancelBackward());
            return;
        }
        try
        {
            Raise(c => c.BeforeStep());
            Optimizer.Step();
            Raise(c => c.AfterStep());
        }
        catch (CancelStepException)
        {
            Raise(c => c.AfterCancelStep());
        }
        Optimizer.ZeroGrad();
    }

    /// <summary>Cross-entropy with the configured label smoothing: the default <see cref="LossFunction"/>.</summary>
    private Tensor CrossEntropy(Tensor logits, Tensor targets, nn.Reduction reduction) =>
        nn.functional.cross_entropy(logits, targets, reduction: reduction, label_smoothing: Options.LabelSmoothing);

    private void Raise(Action<Callback> handler)
    {
        foreach (var cb in _active) handler(cb);
    }

    private void ClearBatchState()
    {
        Images = Targets = Predictions = Loss = LossToBackpropagate = null;
    }
}
