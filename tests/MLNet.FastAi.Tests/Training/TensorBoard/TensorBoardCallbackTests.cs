using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Interpretation.TensorBoard;

namespace MLNet.FastAi.Tests.Training.TensorBoard;

/// <summary>What TensorBoardCallback logs during real fits, read back from its event file.</summary>
[Collection(SmallMnistCollection.Name)]
public class TensorBoardCallbackTests(SmallMnistFixture fixture)
{
    [Fact]
    public void EventFile_HoldsTheRecordersLossesRatesAndMomentumsPerStep_ValidationPerEpoch_AndTheTwoImages()
    {
        using var callback = new TensorBoardCallback(fixture.ModelFolder, "run-" + Guid.NewGuid().ToString("N"));
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.FitOneCycle(2, LearningRates.Slice(1e-4, 1e-2), callbacks: new[] { callback });
        var recorder = learner.Recorder;
        var losses = recorder.Losses.ToList();
        var rates = recorder.GroupLearningRates.Select(r => r.ToArray()).ToList();
        var moms = recorder.GroupMomentums.Select(r => r.ToArray()).ToList();
        var epochs = recorder.Epochs.ToList();
        var iterations = recorder.EpochEndIterations.ToList();
        string file = callback.EventFile!;

        // A second fit continues the step count where the first ended.
        learner.Fit(1, 1e-3, callbacks: new[] { callback });
        int secondFitSteps = learner.Recorder.Losses.Count;
        callback.Dispose();

        var scalars = TensorBoardEventReader.ReadEvents(file)
            .SelectMany(e => e.Values.Where(v => v.SimpleValue is not null).Select(v => (e.Step, v.Tag, Value: v.SimpleValue!.Value)))
            .ToList();
        float At(string tag, long step) => Assert.Single(scalars, s => s.Tag == tag && s.Step == step).Value;

        Assert.Equal(4, losses.Count);
        for (int i = 0; i < losses.Count; i++)
        {
            Assert.Equal((float)losses[i], At(TensorBoardTags.TrainLoss, i + 1));
            for (int g = 0; g < 3; g++)
            {
                Assert.Equal((float)rates[i][g], At(TensorBoardTags.LearningRate(g), i + 1));
                Assert.Equal((float)moms[i][g], At(TensorBoardTags.Momentum(g), i + 1));
            }
        }
        Assert.NotEqual(At("lr_0", 1), At("lr_2", 1));  // the slice gives the groups different rates
        for (int e = 0; e < 2; e++)
        {
            Assert.Equal((float)epochs[e].ValidLoss, At(TensorBoardTags.ValidLoss, iterations[e]));
            Assert.Equal((float)epochs[e].Metrics["accuracy"], At("accuracy", iterations[e]));
        }
        Assert.Equal(losses.Count + secondFitSteps, scalars.Where(s => s.Tag == TensorBoardTags.TrainLoss).Max(s => s.Step));
        Assert.Equal(3, scalars.Count(s => s.Tag == TensorBoardTags.ValidLoss));

        var images = TensorBoardEventReader.ReadEvents(file)
            .SelectMany(e => e.Values.Where(v => v.Image is not null).Select(v => (e.Step, v.Tag, v.Image!)))
            .ToList();
        foreach (var tag in new[] { "confusion_matrix", TensorBoardTags.SampleResults })
        {
            var logged = images.Where(i => i.Tag == tag).ToList();
            Assert.Equal(2, logged.Count);  // one per fit
            Assert.Equal(new long[] { losses.Count, losses.Count + secondFitSteps }, logged.Select(i => i.Step));
            Assert.All(logged, i =>
            {
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, i.Item3.EncodedImage.Take(4));
                Assert.True(i.Item3.Width > 50 && i.Item3.Height > 50);
            });
        }
    }
}
