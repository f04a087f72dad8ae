using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// Stops <see cref="FastAiCnnEstimator"/>'s training when a value has not improved for <see cref="Patience"/> epochs
/// (ImageClassificationTrainer's <c>EarlyStoppingCriteria</c>; fastai's <c>EarlyStoppingCallback</c>, which runs it).
/// With fine-tuning it watches each of the two stages (frozen, then unfrozen) on its own, as fastai does.
/// </summary>
public sealed class FastAiEarlyStopping
{
    /// <summary>The value to follow: <c>valid_loss</c> (the default), <c>train_loss</c>, or a metric's name (<c>accuracy</c>, <c>error_rate</c>, ...).</summary>
    public string Metric = "valid_loss";

    /// <summary>Epochs without improvement tolerated before stopping (fastai 1, ImageClassificationTrainer 20).</summary>
    public int Patience = 3;

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta;

    /// <summary>Checks the settings against the metrics the estimator reports, naming the one at fault.</summary>
    internal void Validate(IReadOnlyList<Func<Metric>> metrics)
    {
        OptionChecks.Refuse(Patience >= 1, OptionKey.EarlyStopping, Patience, $"{OptionKey.EarlyStopping}.Patience must be at least 1; got {Patience}.");
        OptionChecks.Refuse(MinDelta >= 0 && double.IsFinite(MinDelta), OptionKey.EarlyStopping, MinDelta,
            $"{OptionKey.EarlyStopping}.MinDelta must be zero or positive, and finite; got {MinDelta}.");
        var known = new[] { "valid_loss", "train_loss" }.Concat(MetricNames(metrics)).ToList();
        OptionChecks.Refuse(known.Contains(Metric), OptionKey.EarlyStopping, Metric,
            $"{OptionKey.EarlyStopping}.Metric '{Metric}' is not reported by this estimator; choose one of: {string.Join(", ", known)}.");
    }

    /// <summary>True when the followed value comes from validation (everything but <c>train_loss</c>).</summary>
    internal bool NeedsValidation => Metric != "train_loss";

    /// <summary>The callback that does the stopping, with the direction of a metric taken from the metric itself.</summary>
    internal EarlyStoppingCallback CreateCallback(IReadOnlyList<Func<Metric>> metrics)
    {
        bool? lowerIsBetter = Metric.EndsWith("_loss", StringComparison.Ordinal) ? true : null;
        foreach (var factory in metrics)
        {
            var metric = factory();
            if (metric.Name == Metric) lowerIsBetter = !metric.HigherIsBetter;
            metric.Release();
        }
        return new EarlyStoppingCallback(Metric, MinDelta, Patience, lowerIsBetter);
    }

    private static IEnumerable<string> MetricNames(IReadOnlyList<Func<Metric>> metrics) =>
        metrics.Select(factory =>
        {
            var metric = factory();
            metric.Release();
            return metric.Name;
        }).ToList();
}
