using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Tests.Support;

/// <summary>
/// A small MNIST subset decoded once for the schedule, callback and checkpoint tests: 200 training images (20 per
/// digit, batch 32, so 6 training batches per epoch), 50 validation images (5 per digit, other files), 30 test images
/// from the testing folder; 16×16 pixels; and <see cref="Mini"/>, smaller still. Learners made here use <see cref="TinyResNet"/> without pretrained weights,
/// so an epoch takes about a second on one CPU core.
/// </summary>
public sealed class SmallMnistFixture : IDisposable
{
    /// <summary>A ResNet with one basic block per stage: fastai's three parameter groups, a fraction of ResNet-18's work.</summary>
    public static readonly ResNetArchitecture TinyResNet = new("tiny-resnet", ResidualBlockKind.Basic, new[] { 1, 1, 1, 1 });

    public const int TrainCount = 200, ValidCount = 50, BatchSize = 32, TrainBatches = TrainCount / BatchSize, ImageSize = 16;

    public SmallMnistFixture()
    {
        TestTorch.UseOneThread();
        ModelFolder = Path.Combine(Path.GetTempPath(), "fastai-small-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(ModelFolder);
        Data = ImageDataLoaders.FromSplits(MnistSample.Take("training", 20), MnistSample.Take("training", 5, skip: 100),
            options: new ImageDataOptions { ImageSize = ImageSize, BatchSize = BatchSize, Seed = 7, Normalization = NormalizationStats.Mnist });
        Mini = ImageDataLoaders.FromSplits(MnistSample.Take("training", 7, skip: 20).Take(64), MnistSample.Take("training", 2, skip: 105),
            options: new ImageDataOptions { ImageSize = ImageSize, BatchSize = BatchSize, Seed = 7, Normalization = NormalizationStats.Mnist });
        TestItems = MnistSample.Take("testing", 3);
        TestSplit = Data.TestSplit(TestItems.Select(t => t.Path), TestItems.Select(t => (string?)t.Label));
        _trained = new Lazy<Learner>(() =>
        {
            var learner = NewLearner(seed: 3);
            learner.FitOneCycle(TrainedEpochs, TrainedPeaks);
            return learner;
        });
    }

    public ImageDataLoaders Data { get; }

    /// <summary>64 training images (2 batches of 32) and 20 validation images: for callback tests that count events over epochs.</summary>
    public ImageDataLoaders Mini { get; }

    /// <summary>Peak rates of <see cref="Trained"/>'s one-cycle fit: fastai's <c>slice(1e-3, 1e-2)</c> over the three groups.</summary>
    public static readonly LearningRates TrainedPeaks = LearningRates.Slice(1e-3, 1e-2);

    public const int TrainedEpochs = 2;

    /// <summary>
    /// A tiny-ResNet learner after <c>FitOneCycle(2, slice(1e-3, 1e-2))</c> (12 batches), made on first use. Tests read
    /// its recorder and predictions; none may change it.
    /// </summary>
    public Learner Trained => _trained.Value;

    private readonly Lazy<Learner> _trained;

    /// <summary>Checkpoints of learners made by <see cref="NewLearner"/> go here.</summary>
    public string ModelFolder { get; }

    public List<(string Path, string Label)> TestItems { get; }

    public ImageSplit TestSplit { get; }

    /// <summary>A fresh tiny-ResNet learner on <see cref="Data"/> (CPU, no progress output, checkpoints in <see cref="ModelFolder"/>).</summary>
    public Learner NewLearner(VisionLearnerOptions? options = null, int seed = 1, ImageDataLoaders? data = null) =>
        Learner.Vision(data ?? Data, (options ?? new VisionLearnerOptions()) with
        {
            Architecture = TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
            Seed = seed, ModelDirectory = ModelFolder,
        });

    public void Dispose()
    {
        if (_trained.IsValueCreated) _trained.Value.Dispose();
        Data.Dispose();
        Mini.Dispose();
        try { Directory.Delete(ModelFolder, recursive: true); }
        catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallMnistCollection : ICollectionFixture<SmallMnistFixture>
{
    public const string Name = "Small MNIST subset";
}
