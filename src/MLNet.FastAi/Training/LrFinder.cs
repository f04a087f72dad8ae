using MLNet.FastAi.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>The learning-rate finder's curve and suggestions.</summary>
/// <param name="LearningRates">Learning rate per iteration.</param>
/// <param name="Losses">Smoothed loss per iteration.</param>
/// <param name="Suggestions">One suggestion per requested method, valley first by default.</param>
public sealed record LrFindResult(IReadOnlyList<double> LearningRates, IReadOnlyList<double> Losses, IReadOnlyList<LrSuggestion> Suggestions)
{
    /// <summary>The first suggestion's rate (valley by default), what fastai users pass on to <c>fit_one_cycle</c>.</summary>
    public double Suggested => Suggestions[0].LearningRate;
}

/// <summary>
/// fastai's learning-rate finder (<c>lr_find</c> and its <c>LRFinder</c> callback), built on the learner's loop: a
/// callback sets each batch's rate and stops the fit; a snapshot puts the learner back as it was.
/// </summary>
public static class LrFinder
{
    /// <summary>
    /// fastai's <c>lr_find</c>: trains with a learning rate growing exponentially from <paramref name="startLr"/> to
    /// <paramref name="endLr"/> over <paramref name="iterations"/> batches (no validation), stopping early when the
    /// smoothed loss exceeds four times its best; then restores the weights and optimizer state it started from.
    /// </summary>
    /// <param name="startLr">First learning rate (fastai 1e-7).</param>
    /// <param name="endLr">Last learning rate (fastai 10).</param>
    /// <param name="iterations">Number of batches (fastai 100).</param>
    /// <param name="stopOnDivergence">Stop once the loss diverges (fastai <c>stop_div=True</c>).</param>
    /// <param name="suggestions">Suggestion methods: valley (default), minimum, steep, slide.</param>
    /// <param name="cancellation">Stops within one batch.</param>
    /// <param name="learner">The learner to probe; left as it was.</param>
    public static LrFindResult LrFind(this Learner learner, double startLr = 1e-7, double endLr = 10, int iterations = 100, bool stopOnDivergence = true,
        IEnumerable<string>? suggestions = null, CancellationToken cancellation = default)
    {
        ArgumentChecks.PositiveFinite(startLr, nameof(startLr));
        ArgumentChecks.PositiveFinite(endLr, nameof(endLr));
        if (!(endLr > startLr)) throw new ArgumentOutOfRangeException(nameof(endLr), endLr, $"endLr must be greater than startLr ({startLr}).");
        if (iterations < 2) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "LrFind needs at least 2 iterations.");
        var methods = (suggestions ?? new[] { "valley" }).ToList();
        var unknown = methods.FirstOrDefault(m => !LrSuggestions.Names.Contains(m));
        if (unknown is not null) throw new ArgumentException($"Unknown suggestion method '{unknown}'; known: {string.Join(", ", LrSuggestions.Names)}.", nameof(suggestions));

        using var use = learner.Use(nameof(LrFind));
        learner.RefuseNestedFit();
        learner.RefuseTrainingThatCannotFit();
        using var loader = learner.Data.Loader(learner.Data.Train, learner.Device, training: true, learner.Normalization);
        int epochs = (int)Math.Ceiling((double)iterations / Math.Max(1, loader.BatchCount));
        // Taken before Fit sets the starting rate, so the learner's own rates come back too.
        using var snapshot = new TrainingSnapshot(learner);
        var finder = new LrFinderCallback(startLr, endLr, iterations, stopOnDivergence, snapshot);
        learner.Fit(epochs, startLr, callbacks: new Callback[] { finder }, cancellation: cancellation);

        var lrs = learner.Recorder.LearningRates;
        var losses = learner.Recorder.Losses;
        // fastai reads suggestions from lrs[n/10 : -5], cut at the first NaN.
        int from = iterations / 10, to = Math.Max(from, lrs.Count - 5);
        var usedLrs = new List<double>();
        var usedLosses = new List<double>();
        for (int i = from; i < to; i++)
        {
            if (double.IsNaN(losses[i])) break;
            usedLrs.Add(lrs[i]);
            usedLosses.Add(losses[i]);
        }
        if (usedLrs.Count < 2)
        {
            usedLrs = lrs.Where((_, i) => !double.IsNaN(losses[i])).ToList();
            usedLosses = losses.Where(l => !double.IsNaN(l)).ToList();
        }
        return new LrFindResult(lrs, losses, methods.Select(m => LrSuggestions.Suggest(m, usedLrs, usedLosses)).ToList());
    }

    /// <summary>Snapshot of weights and optimizer state, so a probe (lr_find) leaves the learner as it found it.</summary>
    internal sealed class TrainingSnapshot : IDisposable
    {
        private readonly Dictionary<string, Tensor> _weights;
        private readonly Dictionary<string, (Tensor, Tensor)> _moments;
        private readonly long _steps;
        private readonly double[][] _hypers;

        public TrainingSnapshot(Learner learner)
        {
            using var scope = NewDisposeScope();  // frees the optimizer state's views; the clones are kept
            using var _ = no_grad();
            _weights = learner.CnnModel.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope());
            _moments = learner.Optimizer.State().ToDictionary(s => s.Name, s => (s.Average.clone().DetachFromDisposeScope(), s.SquareAverage.clone().DetachFromDisposeScope()));
            _steps = learner.Optimizer.StepCount;
            _hypers = learner.Hypers.Select(h => new[] { h.LearningRate, h.Momentum, h.WeightDecay }).ToArray();
        }

        public void Restore(Learner learner)
        {
            using var _ = no_grad();
            foreach (var (name, tensor) in learner.CnnModel.state_dict()) tensor.copy_(_weights[name]);
            learner.Optimizer.LoadState(_moments, _steps);
            learner.Optimizer.ZeroGrad();
            for (int g = 0; g < _hypers.Length; g++)
                (learner.Hypers[g].LearningRate, learner.Hypers[g].Momentum, learner.Hypers[g].WeightDecay) = (_hypers[g][0], _hypers[g][1], _hypers[g][2]);
        }

        public void Dispose()
        {
            foreach (var t in _weights.Values) t.Dispose();
            foreach (var (a, b) in _moments.Values) { a.Dispose(); b.Dispose(); }
        }
    }

    /// <summary>fastai's <c>LRFinder</c> callback.</summary>
    private sealed class LrFinderCallback : Callback
    {
        private readonly double _start, _end;
        private readonly int _iterations;
        private readonly bool _stopOnDivergence;
        private readonly TrainingSnapshot _snapshot;
        private double _best = double.PositiveInfinity;

        public LrFinderCallback(double start, double end, int iterations, bool stopOnDivergence, TrainingSnapshot snapshot)
        {
            (_start, _end, _iterations, _stopOnDivergence, _snapshot) = (start, end, iterations, stopOnDivergence, snapshot);
        }

        // After the Recorder, so the smoothed loss of the batch is known.
        public override int Order => 55;

        internal override bool IsProbe => true;

        public override void BeforeFit()
        {
            Learner.Recorder.StopOnNonFiniteLoss = false;
            Learner.Recorder.Probing = true;
        }

        public override void BeforeBatch()
        {
            if (!Learner.IsTraining) return;
            double lr = _start * Math.Pow(_end / _start, (double)Learner.TrainIteration / _iterations);
            foreach (var h in Learner.Hypers) h.LearningRate = lr;
        }

        public override void AfterBatch()
        {
            if (!Learner.IsTraining) return;
            double smooth = Learner.Recorder.SmoothLoss;
            if (smooth < _best) _best = smooth;
            if (_stopOnDivergence && (double.IsNaN(smooth) || smooth > 4 * _best)) throw new CancelFitException("loss diverged");
            if (Learner.TrainIteration + 1 >= _iterations) throw new CancelFitException("enough iterations");
        }

        public override void BeforeValidate() => throw new CancelValidateException();

        public override void AfterFit()
        {
            Learner.Recorder.StopOnNonFiniteLoss = true;
            Learner.Recorder.Probing = false;
            _snapshot.Restore(Learner);
        }
    }
}
