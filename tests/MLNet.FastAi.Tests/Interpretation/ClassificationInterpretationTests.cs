using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Interpretation;

/// <summary>
/// fastai's ClassificationInterpretation on a hand-made probability table, against numbers worked out by hand, and
/// on a learner's validation predictions.
/// </summary>
[Collection(SmallMnistCollection.Name)]
public class ClassificationInterpretationTests(SmallMnistFixture fixture)
{
    private static readonly string[] Classes = { "a", "b", "c" };

    //  i  target  probabilities (a, b, c)   predicted  loss = −ln p(target)
    //  0    a     0.70 0.20 0.10              a        0.357
    //  1    a     0.10 0.60 0.30              b        2.303
    //  2    a     0.20 0.30 0.50              c        1.609
    //  3    b     0.30 0.40 0.30              b        0.916
    //  4    b     0.50 0.25 0.25              a        1.386
    //  5    c     0.05 0.15 0.80              c        0.223
    //  6    c     0.10 0.70 0.20              b        1.609
    //  7    a     0.20 0.50 0.30              b        1.609
    private static readonly float[][] Probabilities =
    {
        new[] { 0.70f, 0.20f, 0.10f }, new[] { 0.10f, 0.60f, 0.30f }, new[] { 0.20f, 0.30f, 0.50f }, new[] { 0.30f, 0.40f, 0.30f },
        new[] { 0.50f, 0.25f, 0.25f }, new[] { 0.05f, 0.15f, 0.80f }, new[] { 0.10f, 0.70f, 0.20f }, new[] { 0.20f, 0.50f, 0.30f },
    };
    private static readonly int[] Targets = { 0, 0, 0, 1, 1, 2, 2, 0 };

    private static ClassificationInterpretation HandMade() => ClassificationInterpretation.FromProbabilities(Classes, Probabilities, Targets,
        Enumerable.Range(0, 8).Select(i => $"img{i}.png").ToList());

    [Fact]
    public void ConfusionMatrix_CountsActualByPredicted()
    {
        var expected = new int[,] { { 1, 2, 1 }, { 1, 1, 0 }, { 0, 1, 1 } };
        Assert.Equal(expected, HandMade().ConfusionMatrix());
        Assert.Equal(3.0 / 8, HandMade().Accuracy, 12);
    }

    [Fact]
    public void MostConfused_ListsOffDiagonalPairsLargestFirst_AboveTheMinimumCount()
    {
        var interpretation = HandMade();
        Assert.Equal(new[] { new ConfusedPair("a", "b", 2), new ConfusedPair("a", "c", 1), new ConfusedPair("b", "a", 1), new ConfusedPair("c", "b", 1) },
            interpretation.MostConfused());
        Assert.Equal(new[] { new ConfusedPair("a", "b", 2) }, interpretation.MostConfused(minCount: 2));
    }

    [Fact]
    public void TopLosses_AreTheLargestMinusLogPTarget_WithTheirImagesLabelsAndPredictedProbability()
    {
        var top = HandMade().TopLosses(3);
        Assert.Equal(new[] { 1, 2, 6 }, top.Select(t => t.Index));  // 2.303, then the first two of three ties at −ln 0.2
        Assert.Equal(-Math.Log(0.1), top[0].Loss, 5);
        Assert.Equal(("img1.png", "a", "b", 0.6), (top[0].ImagePath, top[0].Actual, top[0].Predicted, Math.Round(top[0].Probability, 5)));
        Assert.Equal(("c", "b", 0.7), (top[2].Actual, top[2].Predicted, Math.Round(top[2].Probability, 5)));

        var smallest = HandMade().TopLosses(2, largest: false);
        Assert.Equal(new[] { 5, 0 }, smallest.Select(t => t.Index));
        Assert.Equal(-Math.Log(0.8), smallest[0].Loss, 5);
        Assert.Equal(8, HandMade().TopLosses().Count);
    }

    [Fact]
    public void ClassificationReport_GivesPerClassPrecisionRecallF1Support_AccuracyAndAverages()
    {
        var report = HandMade().ClassificationReport();
        // a: 1 right of 2 predicted, of 4 actual; b: 1 of 4 predicted, of 2 actual; c: 1 of 2, of 2.
        var expected = new[]
        {
            new ClassReportRow("a", 0.5, 0.25, 1.0 / 3, 4),
            new ClassReportRow("b", 0.25, 0.5, 1.0 / 3, 2),
            new ClassReportRow("c", 0.5, 0.5, 0.5, 2),
        };
        Assert.Equal(expected.Length, report.Classes.Count);
        foreach (var (e, a) in expected.Zip(report.Classes)) AssertRow(e, a);
        Assert.Equal(3.0 / 8, report.Accuracy, 12);
        AssertRow(new ClassReportRow("macro avg", 1.25 / 3, 1.25 / 3, 7.0 / 18, 8), report.MacroAverage);
        AssertRow(new ClassReportRow("weighted avg", 3.5 / 8, 3.0 / 8, 3.0 / 8, 8), report.WeightedAverage);
        Assert.Equal(8, report.Total);
        Assert.Contains("macro avg", report.ToString());
    }

    [Fact]
    public void FromProbabilities_RefusesMismatchedInput_NamingTheProblem()
    {
        var e = Assert.Throws<ArgumentException>(() => ClassificationInterpretation.FromProbabilities(Classes, Probabilities, Targets.Take(7).ToArray()));
        Assert.Contains("8 probability rows but 7 targets", e.Message);
        e = Assert.Throws<ArgumentException>(() => ClassificationInterpretation.FromProbabilities(Classes, Probabilities, Targets.Select(t => t == 2 ? 3 : t).ToArray()));
        Assert.Contains("Target 3", e.Message);
    }

    [Fact]
    public void FromLearner_OnTheValidationSet_AgreesWithGetPreds()
    {
        var learner = fixture.Trained;
        var interpretation = ClassificationInterpretation.FromLearner(learner);
        var preds = learner.GetPreds(withLoss: true);

        Assert.Equal(fixture.Data.Classes, interpretation.Classes);
        Assert.Equal(preds.Targets, interpretation.Targets);
        Assert.Equal(preds.Decoded, interpretation.Predicted);
        Assert.Equal(preds.Losses, interpretation.Losses);
        Assert.Equal(preds.Probabilities, interpretation.Probabilities);
        Assert.Equal(fixture.Data.Valid.Paths, interpretation.ImagePaths);
        var matrix = interpretation.ConfusionMatrix();
        Assert.Equal(preds.Count, matrix.Cast<int>().Sum());
        Assert.Equal(preds.Accuracy, (double)Enumerable.Range(0, 10).Sum(i => matrix[i, i]) / preds.Count, 12);
        var worst = interpretation.TopLosses(1)[0];
        Assert.Equal(preds.Losses!.Max(), worst.Loss, 6);
        Assert.Equal(fixture.Data.Valid.Paths[worst.Index], worst.ImagePath);
    }

    private static void AssertRow(ClassReportRow expected, ClassReportRow actual)
    {
        Assert.Equal(expected.Label, actual.Label);
        Assert.Equal(expected.Precision, actual.Precision, 12);
        Assert.Equal(expected.Recall, actual.Recall, 12);
        Assert.Equal(expected.F1, actual.F1, 12);
        Assert.Equal(expected.Support, actual.Support);
    }
}
