using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Pipelines;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Interpretation;

/// <summary>The interpretation's numbers against ML.NET's own evaluator, and the learner's against the saved scoring chain, on the same 300 test images.</summary>
[Collection(MnistPipelineCollection.Name)]
public class MLNetAgreementTests(MnistPipelineFixture fixture)
{
    [Fact]
    public void Interpretation_OfTheScoredTestSet_MatchesMLNetsConfusionMatrixAndMetrics()
    {
        var keyed = fixture.KeyMapping.Transform(fixture.TestData);
        var interpretation = MLNetInterpretation.FromModel(fixture.Cnn, keyed, imageColumnName: "ImagePath");
        var metrics = fixture.Cnn.Evaluate(fixture.Context, keyed);

        var ours = interpretation.ConfusionMatrix();
        var theirs = metrics.ConfusionMatrix.Counts;  // [actual][predicted], as ours
        for (int a = 0; a < 10; a++)
            for (int p = 0; p < 10; p++)
                Assert.Equal(theirs[a][p], ours[a, p]);
        Assert.Equal(metrics.MicroAccuracy, interpretation.Accuracy, 12);

        var report = interpretation.ClassificationReport();
        for (int c = 0; c < 10; c++)
        {
            Assert.Equal(metrics.ConfusionMatrix.PerClassPrecision[c], report.Classes[c].Precision, 12);
            Assert.Equal(metrics.ConfusionMatrix.PerClassRecall[c], report.Classes[c].Recall, 12);
        }
        Assert.Equal(metrics.MacroAccuracy, report.MacroAverage.Recall, 12);  // ML.NET's macro accuracy is the mean per-class recall
        Assert.Equal(metrics.LogLoss, interpretation.Losses.Average(l => (double)l), 4);
        Assert.Equal(fixture.TestRows.Select(r => r.ImagePath), interpretation.ImagePaths);
    }

    [Fact]
    public void TheLearnersPredictions_MatchTheScoringChainsScores_OnTheSameImages()
    {
        var learner = fixture.Cnn.Learner;
        var preds = learner.GetPreds(learner.Data.TestSplit(fixture.TestRows.Select(r => r.ImagePath), fixture.TestRows.Select(r => (string?)r.Label)));
        var scores = fixture.Scored.GetColumn<float[]>("Score").ToArray();

        double maxDiff = preds.Probabilities.Zip(scores, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff <= Tolerances.Probability, $"TorchSharp and the ONNX scoring chain differ by up to {maxDiff}");
        var fromLearner = ClassificationInterpretation.FromProbabilities(learner.Data.Classes, preds.Probabilities, preds.Targets).ConfusionMatrix();
        var fromMLNet = fixture.Metrics.ConfusionMatrix.Counts;
        int disagreements = Enumerable.Range(0, 10).Sum(a => Enumerable.Range(0, 10).Sum(p => Math.Abs(fromLearner[a, p] - (int)fromMLNet[a][p])));
        Assert.Equal(0, disagreements);
    }
}
