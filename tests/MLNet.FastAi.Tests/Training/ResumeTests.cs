using MLNet.FastAi.Data;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>
/// A run stopped after an epoch resumes from its checkpoint with exactly the results of the uninterrupted run:
/// weights, optimizer moments, random state, shuffles and schedule positions are all restored.
/// </summary>
[Collection(Support.ProcessWideRandomness.Name)]
public sealed class ResumeTests : IDisposable
{
    private readonly string _models = Path.Combine(Path.GetTempPath(), "mlnet-fastai-resume-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_models)) Directory.Delete(_models, recursive: true);
    }

    private static ImageDataLoaders SmallSample(ImageCacheMode cache = ImageCacheMode.Auto)
    {
        string root = Path.Combine(Packaging.ProcessRunner.RepositoryRoot, "examples", "data", "mnist_sample", "training");
        var files = Directory.GetDirectories(root).Order().SelectMany(d => Directory.GetFiles(d, "*.png").Order().Take(20)).ToList();
        return ImageDataLoaders.FromLists(files, files.Select(f => Path.GetFileName(Path.GetDirectoryName(f))!), 0.2,
            new ImageDataOptions { BatchSize = 32, Seed = 3, Cache = cache, Log = _ => { } }).Normalize(NormalizationStats.Mnist);
    }

    private VisionLearnerOptions Options => new() { Seed = 5, ModelDirectory = _models, ShowProgress = false };

    /// <summary>Streamed images are decoded again each epoch, in background workers; the resumed run is still exact.</summary>
    [Theory]
    [InlineData(ImageCacheMode.Memory)]
    [InlineData(ImageCacheMode.Stream)]
    [Trait("Category", "Slow")]
    public void ResumedOneCycle_EqualsTheUninterruptedRun(ImageCacheMode cache)
    {
        using var data = SmallSample(cache);
        Assert.Equal(cache, data.CacheModes["train"]);
        Dictionary<string, Tensor> uninterrupted;
        using (var learn = Learner.Vision(data, Options))
        {
            learn.FitOneCycle(3, 2e-3, callbacks: new Callback[] { new SaveModelCallback(fileName: "run", everyEpoch: true, withOptimizer: true) });
            uninterrupted = learn.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        }

        using var resumed = Learner.Vision(data, Options);
        resumed.Load("run_0");                        // the checkpoint written after epoch 0
        resumed.FitOneCycle(3, 2e-3, startEpoch: 1);  // epochs 1 and 2 again

        Assert.Equal(2, resumed.Recorder.Epochs.Count);
        foreach (var (name, tensor) in resumed.Model.state_dict())
        {
            double diff = (tensor.to(ScalarType.Float64) - uninterrupted[name].to(ScalarType.Float64)).abs().max().item<double>();
            Assert.True(diff == 0, $"{name} differs by {diff} from the uninterrupted run");
        }
    }
}
