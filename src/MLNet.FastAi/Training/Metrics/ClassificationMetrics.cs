using MLNet.FastAi.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training.Metrics;

/// <summary>fastai's classification metrics. Each call returns a fresh metric object for one learner.</summary>
public static class ClassificationMetrics
{
    /// <summary>Fraction of images whose top prediction is right (fastai <c>accuracy</c>).</summary>
    public static Metric Accuracy() => new AccuracyMetric();

    /// <summary>1 − accuracy (fastai <c>error_rate</c>).</summary>
    public static Metric ErrorRate() => new ErrorRateMetric();

    /// <summary>Fraction of images whose class is among the top <paramref name="k"/> predictions (fastai <c>top_k_accuracy</c>).</summary>
    public static Metric TopKAccuracy(int k = 5) => new TopKAccuracyMetric(k);

    /// <summary>Macro-averaged F1 (fastai <c>F1Score(average='macro')</c>).</summary>
    public static Metric F1Macro() => new MacroMetric("f1_score", MacroMetric.Kind.F1);

    /// <summary>Macro-averaged precision (fastai <c>Precision(average='macro')</c>).</summary>
    public static Metric PrecisionMacro() => new MacroMetric("precision_score", MacroMetric.Kind.Precision);

    /// <summary>Macro-averaged recall (fastai <c>Recall(average='macro')</c>).</summary>
    public static Metric RecallMacro() => new MacroMetric("recall_score", MacroMetric.Kind.Recall);

    /// <summary>Looks a metric up by its fastai name (accuracy, error_rate, top_k_accuracy, f1_score, precision_score, recall_score).</summary>
    public static Metric FromName(string name) => name.ToLowerInvariant() switch
    {
        "accuracy" => Accuracy(),
        "error_rate" => ErrorRate(),
        "top_k_accuracy" => TopKAccuracy(),
        "f1" or "f1_score" => F1Macro(),
        "precision" or "precision_score" => PrecisionMacro(),
        "recall" or "recall_score" => RecallMacro(),
        _ => throw new ArgumentException($"Unknown metric '{name}'. Known: accuracy, error_rate, top_k_accuracy, f1_score, precision_score, recall_score.", nameof(name)),
    };

    internal static double AccuracyOf(long[,] m)
    {
        long correct = 0, total = 0;
        for (int i = 0; i < m.GetLength(0); i++)
            for (int j = 0; j < m.GetLength(1); j++)
            {
                total += m[i, j];
                if (i == j) correct += m[i, j];
            }
        return total == 0 ? double.NaN : (double)correct / total;
    }
}

internal sealed class AccuracyMetric : ConfusionMetric
{
    public override string Name => "accuracy";
    protected override double FromConfusion(long[,] m) => ClassificationMetrics.AccuracyOf(m);
}

internal sealed class ErrorRateMetric : ConfusionMetric
{
    public override string Name => "error_rate";
    public override bool HigherIsBetter => false;
    protected override double FromConfusion(long[,] m) => 1 - ClassificationMetrics.AccuracyOf(m);
}

/// <summary>Per-class precision, recall or F1 averaged over the classes present in targets or predictions (sklearn's macro).</summary>
internal sealed class MacroMetric : ConfusionMetric
{
    public enum Kind { Precision, Recall, F1 }

    private readonly string _name;
    private readonly Kind _kind;

    public MacroMetric(string name, Kind kind)
    {
        _name = name;
        _kind = kind;
    }

    public override string Name => _name;

    protected override double FromConfusion(long[,] m)
    {
        int k = m.GetLength(0);
        var scores = new List<double>();
        for (int c = 0; c < k; c++)
        {
            long tp = m[c, c], actual = 0, predicted = 0;
            for (int j = 0; j < k; j++) { actual += m[c, j]; predicted += m[j, c]; }
            if (actual == 0 && predicted == 0) continue;
            // sklearn's zero_division: an undefined ratio counts as 0.
            double precision = predicted == 0 ? 0 : (double)tp / predicted;
            double recall = actual == 0 ? 0 : (double)tp / actual;
            scores.Add(_kind switch
            {
                Kind.Precision => precision,
                Kind.Recall => recall,
                _ => precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
            });
        }
        return scores.Count == 0 ? double.NaN : scores.Average();
    }
}

internal sealed class TopKAccuracyMetric : Metric
{
    private readonly int _k;
    private Tensor? _hits;
    private long _count;

    public TopKAccuracyMetric(int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        _k = k;
    }

    public override string Name => "top_k_accuracy";

    public override void Reset(int classes, Device device)
    {
        _hits?.Dispose();
        _hits = zeros(1, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
        _count = 0;
    }

    public override void Release()
    {
        _hits?.Dispose();
        _hits = null;
    }

    public override void Accumulate(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        int k = (int)Math.Min(_k, logits.shape[1]);
        var top = logits.topk(k, dim: 1).indexes;
        _hits!.add_((top == targets.unsqueeze(1)).any(1).sum(), KeptScalars.One);
        _count += targets.shape[0];
    }

    public override double Compute()
    {
        if (_count == 0) return double.NaN;
        using var hits = _hits!.cpu();  // a new tensor handle even on the CPU
        return (double)hits.item<long>() / _count;
    }
}
