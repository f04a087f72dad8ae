using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Training;

/// <summary>get_preds, predict, tta and validate on a trained learner; they must agree with each other and with training.</summary>
[Collection(SmallMnistCollection.Name)]
public class PredictionTests(SmallMnistFixture fixture)
{
    [Fact]
    public void GetPreds_WithLoss_GivesProbabilityRows_TheValidationTargets_ArgmaxDecoding_AndLossesOfMinusLogPTarget()
    {
        var learner = fixture.Trained;
        var preds = learner.GetPreds(withLoss: true);

        Assert.Equal(SmallMnistFixture.ValidCount, preds.Count);
        Assert.Equal(fixture.Data.Valid.LabelIndices, preds.Targets);
        Assert.NotNull(preds.Losses);
        for (int i = 0; i < preds.Count; i++)
        {
            var row = preds.Probabilities[i];
            Assert.Equal(1.0, row.Sum(), 5);
            Assert.Equal(Array.IndexOf(row, row.Max()), preds.Decoded[i]);
            double expected = -Math.Log(row[preds.Targets[i]]);
            Assert.True(Math.Abs(preds.Losses![i] - expected) <= 1e-5 + 1e-4 * expected, $"row {i}: loss {preds.Losses[i]} vs −log p = {expected}");
        }
        Assert.Equal((double)preds.Decoded.Where((d, i) => d == preds.Targets[i]).Count() / preds.Count, preds.Accuracy);
    }

    [Fact]
    public void Predict_OnOneFile_AgreesWithGetPredsOnTheSameFiles()
    {
        var learner = fixture.Trained;
        var files = fixture.TestItems.Take(6).Select(t => t.Path).ToList();
        var batch = learner.GetPreds(fixture.Data.TestSplit(files));
        var many = learner.Predict(files);

        for (int i = 0; i < files.Count; i++)
        {
            var one = learner.Predict(files[i]);
            Assert.Equal(batch.Decoded[i], one.Index);
            Assert.Equal(fixture.Data.Classes[one.Index], one.Label);
            Assert.Equal(batch.Probabilities[i], one.Probabilities, (a, b) => Math.Abs(a - b) <= Tolerances.Probability);
            Assert.Equal(one.Label, many[i].Label);
            Assert.Equal(batch.Probabilities[i], many[i].Probabilities, (a, b) => Math.Abs(a - b) <= Tolerances.Probability);
        }
    }

    [Fact]
    public void Tta_BlendsAugmentedAndPlainPredictions_IntoRowsThatSumToOne()
    {
        var learner = fixture.Trained;
        var plain = learner.GetPreds();
        var tta = learner.Tta(n: 2);
        var onlyPlain = learner.Tta(n: 1, beta: 1);

        Assert.Equal(plain.Count, tta.Count);
        Assert.Equal(plain.Targets, tta.Targets);
        Assert.All(tta.Probabilities, row => Assert.Equal(1.0, row.Sum(), 5));
        for (int i = 0; i < tta.Count; i++) Assert.Equal(Array.IndexOf(tta.Probabilities[i], tta.Probabilities[i].Max()), tta.Decoded[i]);
        double change = tta.Probabilities.Zip(plain.Probabilities, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(change > 1e-3, $"augmented passes changed the probabilities by only {change}");
        // beta = 1 is all plain prediction (lerp(augmented, plain, 1)).
        Assert.Equal(plain.Probabilities.SelectMany(r => r), onlyPlain.Probabilities.SelectMany(r => r), (a, b) => Math.Abs(a - b) <= 1e-6);
    }

    [Fact]
    public void Validate_AfterAFit_MatchesTheRecordersLastValidationLossAndMetrics()
    {
        var learner = fixture.Trained;
        var (loss, metrics) = learner.Validate();
        var last = learner.Recorder.Epochs[^1];
        Assert.True(Math.Abs(loss - last.ValidLoss) <= 1e-5, $"Validate gives {loss}, the recorder {last.ValidLoss}");
        Assert.Equal(last.Metrics["accuracy"], metrics["accuracy"], 12);
    }
}
