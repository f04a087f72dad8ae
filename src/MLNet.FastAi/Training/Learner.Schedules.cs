using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>fastai's <c>fine_tune</c> default <c>base_lr</c>.</summary>
    public const double DefaultBaseLearningRate = 2e-3;

    /// <summary>fastai's <c>fine_tune</c> default <c>freeze_epochs</c>.</summary>
    public const int DefaultFreezeEpochs = 1;

    /// <summary>
    /// One-cycle training (fastai's <c>fit_one_cycle</c>): per batch, the learning rate rises on a cosine from
    /// <c>lrMax/div</c> to <c>lrMax</c> over <paramref name="pctStart"/> of training, then falls on a cosine to
    /// <c>lrMax/divFinal</c>; momentum mirrors it (0.95 → 0.85 → 0.95).
    /// </summary>
    /// <param name="epochs">Number of epochs.</param>
    /// <param name="lrMax">Peak rate(s); null uses <see cref="VisionLearnerOptions.LearningRate"/>.</param>
    /// <param name="div">Initial rate = lrMax / div (fastai 25).</param>
    /// <param name="divFinal">Final rate = lrMax / divFinal (fastai 1e5).</param>
    /// <param name="pctStart">Fraction of training spent warming up (fastai 0.25).</param>
    /// <param name="weightDecay">Weight decay; null uses the learner's.</param>
    /// <param name="momentums">Momentum start/middle/end; null uses the learner's.</param>
    /// <param name="callbacks">Callbacks for this fit only.</param>
    /// <param name="cancellation">Stops the fit within one batch.</param>
    /// <param name="startEpoch">Resume at this epoch after loading a checkpoint (see <see cref="Fit"/>).</param>
    public void FitOneCycle(int epochs, LearningRates? lrMax = null, double div = 25, double divFinal = 1e5, double pctStart = 0.25,
        double? weightDecay = null, (double Start, double Middle, double End)? momentums = null, IEnumerable<Callback>? callbacks = null,
        CancellationToken cancellation = default, int startEpoch = 0)
    {
        ArgumentChecks.Epochs(epochs, nameof(epochs));
        ArgumentChecks.Rates(lrMax, nameof(lrMax));
        ArgumentChecks.PositiveFinite(div, nameof(div));
        ArgumentChecks.PositiveFinite(divFinal, nameof(divFinal));
        ArgumentChecks.Fraction(pctStart, nameof(pctStart));
        ArgumentChecks.NonNegativeFinite(weightDecay, nameof(weightDecay));
        ArgumentChecks.Momentums(momentums, nameof(momentums));
        using var use = Use(nameof(FitOneCycle));
        var peaks = (lrMax ?? LearningRates.Single(Options.LearningRate)).ForGroups(GroupCount);
        var moms = momentums ?? Options.Momentums;
        var scheduler = new ParamScheduler(new Dictionary<string, IReadOnlyList<Schedule>>
        {
            ["lr"] = peaks.Select(p => Schedules.CombinedCosine(pctStart, p / div, p, p / divFinal)).ToList(),
            ["mom"] = new[] { Schedules.CombinedCosine(pctStart, moms.Start, moms.Middle, moms.End) },
        });
        Fit(epochs, lrMax, weightDecay, new Callback[] { scheduler }.Concat(callbacks ?? Array.Empty<Callback>()), cancellation: cancellation, startEpoch: startEpoch);
    }

    /// <summary>
    /// fastai's <c>fine_tune</c>, exactly: freeze; one-cycle for <paramref name="freezeEpochs"/> at
    /// <c>slice(baseLr)</c> with <c>pctStart=0.99</c>; halve <paramref name="baseLr"/>; unfreeze; one-cycle for
    /// <paramref name="epochs"/> at <c>slice(baseLr/lrMult, baseLr)</c> with <paramref name="pctStart"/> and <paramref name="div"/>.
    /// </summary>
    public void FineTune(int epochs, double baseLr = DefaultBaseLearningRate, int freezeEpochs = DefaultFreezeEpochs, double lrMult = 100, double pctStart = 0.3, double div = 5.0,
        double? weightDecay = null, IEnumerable<Callback>? callbacks = null, CancellationToken cancellation = default)
    {
        // All checked here, before Freeze changes the learner: the fits below would only find a bad value later.
        ArgumentChecks.Epochs(epochs, nameof(epochs));
        ArgumentChecks.Epochs(freezeEpochs, nameof(freezeEpochs), minimum: 0);
        ArgumentChecks.PositiveFinite(baseLr, nameof(baseLr));
        ArgumentChecks.PositiveFinite(lrMult, nameof(lrMult));
        ArgumentChecks.Fraction(pctStart, nameof(pctStart));
        ArgumentChecks.PositiveFinite(div, nameof(div));
        ArgumentChecks.NonNegativeFinite(weightDecay, nameof(weightDecay));
        using var use = Use(nameof(FineTune));
        RefuseNestedFit();  // before Freeze changes the learner
        var extra = callbacks?.ToList();
        if (freezeEpochs > 0)
        {
            Freeze();
            FitOneCycle(freezeEpochs, LearningRates.Slice(baseLr), pctStart: 0.99, weightDecay: weightDecay, callbacks: extra, cancellation: cancellation);
        }
        baseLr /= 2;
        Unfreeze();
        FitOneCycle(epochs, LearningRates.Slice(baseLr / lrMult, baseLr), pctStart: pctStart, div: div, weightDecay: weightDecay, callbacks: extra, cancellation: cancellation);
    }

    /// <summary>
    /// fastai's <c>fit_flat_cos</c>: a flat learning rate for <paramref name="pctStart"/> of training, then a cosine
    /// down to <c>lr/divFinal</c>.
    /// </summary>
    public void FitFlatCos(int epochs, LearningRates? lr = null, double divFinal = 1e5, double pctStart = 0.75, double? weightDecay = null,
        IEnumerable<Callback>? callbacks = null, CancellationToken cancellation = default)
    {
        ArgumentChecks.Epochs(epochs, nameof(epochs));
        ArgumentChecks.Rates(lr, nameof(lr));
        ArgumentChecks.PositiveFinite(divFinal, nameof(divFinal));
        ArgumentChecks.Fraction(pctStart, nameof(pctStart));
        ArgumentChecks.NonNegativeFinite(weightDecay, nameof(weightDecay));
        using var use = Use(nameof(FitFlatCos));
        var peaks = (lr ?? LearningRates.Single(Options.LearningRate)).ForGroups(GroupCount);
        var scheduler = new ParamScheduler(new Dictionary<string, IReadOnlyList<Schedule>>
        {
            ["lr"] = peaks.Select(p => Schedules.Combine(new[] { pctStart, 1 - pctStart },
                new[] { Schedules.Constant(p), Schedules.Cosine(p, p / divFinal) })).ToList(),
        });
        Fit(epochs, lr, weightDecay, new Callback[] { scheduler }.Concat(callbacks ?? Array.Empty<Callback>()), cancellation: cancellation);
    }
}
