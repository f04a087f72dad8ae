using System.IO.Compression;
using MLNet.FastAi.Data;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Training;

/// <summary>learn.save / learn.load: what a checkpoint brings back into a fresh learner, and what it refuses.</summary>
[Collection(SmallMnistCollection.Name)]
public class CheckpointTests(SmallMnistFixture fixture)
{
    [Fact]
    public void SaveThenLoadIntoAFreshLearner_GivesIdenticalTestPredictions()
    {
        var trained = fixture.Trained;
        string path = trained.Save("fresh-learner-round-trip", withOptimizer: false);
        var expected = trained.GetPreds(fixture.TestSplit);

        using var fresh = fixture.NewLearner(seed: 12345);
        var untrained = fresh.GetPreds(fixture.TestSplit);
        Assert.NotEqual(expected.Probabilities[0], untrained.Probabilities[0]);  // the fresh learner really starts elsewhere

        fresh.Load(path);
        var loaded = fresh.GetPreds(fixture.TestSplit);
        Assert.Equal(expected.Decoded, loaded.Decoded);
        double maxDiff = expected.Probabilities.Zip(loaded.Probabilities, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        // The same weights through the same kernels on the same images: only what the checkpoint lost could differ.
        Assert.True(maxDiff <= 1e-6, $"test probabilities differ by up to {maxDiff} after loading");
        Assert.Equal(fixture.TestItems.Count, loaded.Count);
    }

    /// <summary>
    /// Dropout is off in this test: its masks come from libtorch's process-wide generator, which other test classes
    /// draw from in parallel, and the point here is the optimizer state, not the masks.
    /// </summary>
    [Fact]
    public void SaveWithOptimizer_ThenLoadAndContinue_TrainsExactlyAsTheOriginalContinues()
    {
        var options = new VisionLearnerOptions { Dropout = 0 };
        Dictionary<string, float[]> original;
        using (var learner = fixture.NewLearner(options, data: fixture.Mini))
        {
            learner.Fit(1, 1e-3);
            learner.Save("continue-training");
            learner.Fit(1, 1e-3);
            original = TestTorch.Snapshot(learner.Model);
        }

        Dictionary<string, float[]> resumed;
        using (var learner = fixture.NewLearner(options, seed: 99, data: fixture.Mini))
        {
            learner.Load("continue-training");
            learner.Fit(1, 1e-3);
            resumed = TestTorch.Snapshot(learner.Model);
        }
        double diff = TestTorch.MaxDifference(original, resumed);
        Assert.True(diff <= 1e-6, $"weights after resuming differ by {diff}");

        // Without the optimizer's moments the continuation is different, so the comparison above is not vacuous.
        using (var learner = fixture.NewLearner(options, seed: 99, data: fixture.Mini))
        {
            learner.Load("continue-training", withOptimizer: false);
            learner.Fit(1, 1e-3);
            double withoutMoments = TestTorch.MaxDifference(original, TestTorch.Snapshot(learner.Model));
            Assert.True(withoutMoments > 1e-4, $"resuming without the optimizer state differs by only {withoutMoments}");
        }
    }

    [Fact]
    public void Load_ATruncatedCheckpoint_IsRefusedNamingTheFile_AndLeavesTheLearnerUnchanged()
    {
        string good = fixture.Trained.Save("to-truncate");
        string truncated = Path.Combine(fixture.ModelFolder, "truncated.ckpt");
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length / 2).ToArray());

        using var learner = fixture.NewLearner();
        var before = TestTorch.Snapshot(learner.Model);
        var e = Assert.Throws<InvalidDataException>(() => learner.Load(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Equal(0, TestTorch.MaxDifference(before, TestTorch.Snapshot(learner.Model)));
    }

    [Fact]
    public void Load_AFileThatIsNotAZip_OrAZipThatIsNotACheckpoint_IsRefusedNamingTheFile()
    {
        using var learner = fixture.NewLearner();

        string notZip = Path.Combine(fixture.ModelFolder, "not-a-zip.ckpt");
        File.WriteAllText(notZip, "these are not the weights you are looking for");
        var e = Assert.Throws<InvalidDataException>(() => learner.Load(notZip));
        Assert.Contains(notZip, e.Message);

        string otherZip = Path.Combine(fixture.ModelFolder, "other.zip");
        using (var zip = ZipFile.Open(otherZip, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            writer.Write("hello");
        e = Assert.Throws<InvalidDataException>(() => learner.Load(otherZip));
        Assert.Contains(otherZip, e.Message);
        Assert.Contains("meta.json", e.Message);
    }

    [Fact]
    public void Load_ACheckpointTrainedOnOtherClasses_IsRefusedNamingTheFileAndBothClassLists()
    {
        var fourDigits = MnistSample.Take("training", 2).Where(t => t.Label is "1" or "2" or "3" or "4").ToList();
        var fourMore = MnistSample.Take("training", 1, skip: 2).Where(t => t.Label is "1" or "2" or "3" or "4").ToList();
        using var otherData = ImageDataLoaders.FromSplits(fourDigits, fourMore,
            options: new ImageDataOptions { ImageSize = SmallMnistFixture.ImageSize, Normalization = NormalizationStats.Mnist, Seed = 1 });
        string path;
        using (var other = fixture.NewLearner(data: otherData))
            path = other.Save("four-digits");

        using var learner = fixture.NewLearner();
        var before = TestTorch.Snapshot(learner.Model);
        var e = Assert.Throws<InvalidDataException>(() => learner.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("1, 2, 3, 4", e.Message);
        Assert.Contains("0, 1, 2, 3, 4, 5, 6, 7, 8, 9", e.Message);
        Assert.Equal(0, TestTorch.MaxDifference(before, TestTorch.Snapshot(learner.Model)));
    }
}
