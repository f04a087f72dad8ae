using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Tests.Support;

/// <summary>
/// A small MNIST subset decoded once for the schedule, callback and checkpoint tests: 200 training images (20 per
/// digit, batch 32, so 6 training batches per epoch), 50 validation images (5 per digit, other files), 30 test images
/// from the testing folder; 16×16 pixels. Learners made here use <see cref="TinyResNet"/> without pretrained weights,
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
        TestItems = MnistSample.Take("testing", 3);
        TestSplit = Data.TestSplit(TestItems.Select(t => t.Path), TestItems.Select(t => (string?)t.Label));
    }

    public ImageDataLoaders Data { get; }

    /// <summary>Checkpoints of learners made by <see cref="NewLearner"/> go here.</summary>
    public string ModelFolder { get; }

    public List<(string Path, string Label)> TestItems { get; }

    public ImageSplit TestSplit { get; }

    /// <summary>A fresh tiny-ResNet learner on <see cref="Data"/> (CPU, no progress output, checkpoints in <see cref="ModelFolder"/>).</summary>
    public Learner NewLearner(VisionLearnerOptions? options = null, int seed = 1) =>
        Learner.Vision(Data, (options ?? new VisionLearnerOptions()) with
        {
            Architecture = TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
            Seed = seed, ModelDirectory = ModelFolder,
        });

    public void Dispose()
    {
        Data.Dispose();
        try { Directory.Delete(ModelFolder, recursive: true); }
        catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallMnistCollection : ICollectionFixture<SmallMnistFixture>
{
    public const string Name = "Small MNIST subset";
}
