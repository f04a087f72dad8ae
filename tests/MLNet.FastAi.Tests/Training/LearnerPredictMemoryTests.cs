using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Pipelines;
using MLNet.FastAi.Training;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Training;

/// <summary>
/// Learner.Predict decodes each file into a split of its own; those splits must not pile up in the data loaders'
/// decoded cache, or a service predicting image by image grows without bound.
/// </summary>
public class LearnerPredictMemoryTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"fastai-predict-memory-{Guid.NewGuid():N}");

    [Fact]
    public void Predict_ReleasesItsDecodedImages_AndAgreesWithGetPredsOnAKeptSplit()
    {
        var files = TestImages.Write(_folder, 8, seed: 3).Select(f => Path.Combine(_folder, f)).ToArray();
        using var data = ImageDataLoaders.FromLists(files, files.Select((_, i) => i % 2 == 0 ? "even" : "odd"), validPct: 0.25,
            new ImageDataOptions { ImageSize = 16, BatchSize = 4, Seed = 1 });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Pretrained = PretrainedSource.None, Device = ComputeDevice.Cpu, ShowProgress = false, Seed = 1,
        });
        int held = data.DecodedSplitCount;

        var single = files.Take(3).Select(learner.Predict).ToList();
        var several = learner.Predict(files.Take(3));
        Assert.Equal(held, data.DecodedSplitCount);

        // A split the caller made is the caller's to reuse: it stays decoded.
        var kept = data.TestSplit(files.Take(3));
        var expected = learner.GetPreds(kept);
        Assert.Equal(held + 1, data.DecodedSplitCount);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected.PredictedLabel(i), single[i].Label);
            // One image per batch and three per batch may round differently in the last bits.
            Assert.Equal(expected.Probabilities[i], single[i].Probabilities, (a, b) => Math.Abs(a - b) < Tolerances.Probability);
            Assert.Equal(expected.Probabilities[i], several[i].Probabilities, (a, b) => Math.Abs(a - b) < Tolerances.Probability);
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
