using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training.Metrics;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>
/// fastai's metrics on hand-made logits, against values worked out by hand below, and against the classification
/// report of <see cref="ClassificationInterpretation"/> on the same predictions.
/// </summary>
public class MetricsTests
{
    private static readonly string[] Classes = { "cat", "dog", "fox" };

    // Ten images. Targets and the argmax of each logit row (the prediction), with the runner-up noted for top-2:
    //  i : target  predicted  second
    //  0 :  cat      cat       dog
    //  1 :  cat      cat       fox
    //  2 :  cat      dog       cat
    //  3 :  cat      fox       dog
    //  4 :  dog      dog       cat
    //  5 :  dog      dog       fox
    //  6 :  dog      cat       fox
    //  7 :  fox      fox       cat
    //  8 :  fox      dog       fox
    //  9 :  fox      fox       dog
    private static readonly int[] Targets = { 0, 0, 0, 0, 1, 1, 1, 2, 2, 2 };
    private static readonly float[][] Logits =
    {
        new[] { 3f, 1f, 0f }, new[] { 2f, 0f, 1f }, new[] { 1f, 2f, 0f }, new[] { 0f, 1f, 3f }, new[] { 1f, 4f, 0f },
        new[] { 0f, 2f, 1f }, new[] { 2f, 0f, 1f }, new[] { 1f, 0f, 2f }, new[] { 0f, 3f, 1f }, new[] { 0f, 1f, 2f },
    };

    // Confusion matrix (rows actual, columns predicted):
    //        cat dog fox
    //   cat   2   1   1
    //   dog   1   2   0
    //   fox   0   1   2
    // accuracy = 6/10; top-2: every target is first or second except row 3 (cat after fox, dog) and row 6 (dog after cat, fox) → 8/10.
    // precision: cat 2/3, dog 2/4, fox 2/3 → macro (2/3 + 1/2 + 2/3)/3 = 11/18
    // recall:    cat 2/4, dog 2/3, fox 2/3 → macro (1/2 + 2/3 + 2/3)/3 = 11/18
    // F1:        cat 2·(2/3)(1/2)/(2/3+1/2) = 4/7, dog 4/7, fox 2/3 → macro (4/7 + 4/7 + 2/3)/3 = 38/63
    private const double Accuracy = 0.6, TopTwo = 0.8, MacroPrecision = 11.0 / 18, MacroRecall = 11.0 / 18, MacroF1 = 38.0 / 63;

    public MetricsTests() => TorchRuntime.EnsureInitialized();

    private static double Evaluate(Metric metric, int split = 10)
    {
        using var scope = NewDisposeScope();
        metric.Reset(Classes.Length, CPU);
        // Accumulate in two batches, as an epoch would.
        foreach (var (from, count) in new[] { (0, split), (split, 10 - split) }.Where(p => p.Item2 > 0))
        {
            var logits = tensor(Logits.Skip(from).Take(count).SelectMany(r => r).ToArray(), new long[] { count, 3 });
            var targets = tensor(Targets.Skip(from).Take(count).Select(t => (long)t).ToArray());
            metric.Accumulate(logits, targets);
        }
        return metric.Compute();
    }

    [Theory]
    [InlineData(10)]
    [InlineData(4)]
    public void Metrics_OnHandMadeLogits_EqualTheHandComputedValues(int firstBatch)
    {
        Assert.Equal(Accuracy, Evaluate(ClassificationMetrics.Accuracy(), firstBatch), 12);
        Assert.Equal(1 - Accuracy, Evaluate(ClassificationMetrics.ErrorRate(), firstBatch), 12);
        Assert.Equal(TopTwo, Evaluate(ClassificationMetrics.TopKAccuracy(2), firstBatch), 12);
        Assert.Equal(1.0, Evaluate(ClassificationMetrics.TopKAccuracy(5), firstBatch), 12);  // k beyond the class count: every image
        Assert.Equal(MacroPrecision, Evaluate(ClassificationMetrics.PrecisionMacro(), firstBatch), 12);
        Assert.Equal(MacroRecall, Evaluate(ClassificationMetrics.RecallMacro(), firstBatch), 12);
        Assert.Equal(MacroF1, Evaluate(ClassificationMetrics.F1Macro(), firstBatch), 12);
    }

    [Fact]
    public void Metrics_AgreeWithTheClassificationReport_OnTheSamePredictions()
    {
        var probabilities = Logits.Select(row =>
        {
            var e = row.Select(v => Math.Exp(v)).ToArray();
            return e.Select(v => (float)(v / e.Sum())).ToArray();
        }).ToArray();
        var report = ClassificationInterpretation.FromProbabilities(Classes, probabilities, Targets).ClassificationReport();

        Assert.Equal(Evaluate(ClassificationMetrics.Accuracy()), report.Accuracy, 12);
        Assert.Equal(Evaluate(ClassificationMetrics.PrecisionMacro()), report.MacroAverage.Precision, 12);
        Assert.Equal(Evaluate(ClassificationMetrics.RecallMacro()), report.MacroAverage.Recall, 12);
        Assert.Equal(Evaluate(ClassificationMetrics.F1Macro()), report.MacroAverage.F1, 12);
    }

    [Fact]
    public void FromName_FindsFastAisMetricNames()
    {
        Assert.Equal("accuracy", ClassificationMetrics.FromName("accuracy").Name);
        Assert.Equal("error_rate", ClassificationMetrics.FromName("error_rate").Name);
        Assert.Equal("f1_score", ClassificationMetrics.FromName("F1").Name);
        var e = Assert.Throws<ArgumentException>(() => ClassificationMetrics.FromName("auc"));
        Assert.Contains("'auc'", e.Message);
    }
}
