using System.Text.Json.Nodes;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Bench.Training;

/// <summary>The options of the <c>train</c> and <c>predict</c> benchmarks, and how they make learners.</summary>
internal sealed record TrainSettings(string Folder, ComputeDevice Device, int Epochs, int BatchSize, ResNetArchitecture Architecture,
    double LearningRate, bool Pretrained, bool Augment, bool Progress, int WarmupBatches, int? ImageSize)
{
    public static TrainSettings Read(BenchArgs args, int defaultEpochs) => new(
        args.Required("folder"),
        BenchDevice.Parse(args.Text("device")),
        args.Int("epochs", defaultEpochs),
        args.Int("batch", 128),
        ReadArchitecture(args.Text("arch")),
        args.Double("lr", 1e-3),
        args.Flag("pretrained"),
        args.Flag("augment"),
        args.Flag("progress"),
        args.Int("warmup-batches", 3, min: 0),
        args.Text("size") is null ? null : args.Int("size", 28));

    private static ResNetArchitecture ReadArchitecture(string? name)
    {
        try
        {
            return name is null ? ResNetArchitecture.ResNet18 : ResNetArchitecture.FromName(name);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--arch: {e.Message}");
        }
    }

    /// <summary>The augmentation the benchmarks use when asked: fastai's defaults without flips (digits).</summary>
    public static AugmentationOptions DigitAugmentation { get; } = AugmentationOptions.Default with { DoFlip = false };

    public ImageDataLoaders LoadData()
    {
        var data = BenchData.Load(Folder, BatchSize, ImageSize);
        // Fixed up front so that every learner and every bare loop sees the same normalized inputs.
        data.Normalize(NormalizationStats.ImageNet);
        if (Augment) data.Augment(DigitAugmentation);
        return data;
    }

    /// <summary>
    /// A learner with a fixed seed. Without --pretrained the body starts random (throughput does not depend on the
    /// weights, and the 63 MB ImageNet file then need not travel to the GPU machine).
    /// </summary>
    public Learner NewLearner(ImageDataLoaders data, bool showProgress = false) => Learner.Vision(data, new VisionLearnerOptions
    {
        Architecture = Architecture,
        Pretrained = Pretrained ? null : PretrainedSource.None,
        Device = Device,
        ShowProgress = showProgress,
        Seed = 1,
        LearningRate = LearningRate,
    });

    public void Record(BenchReport report)
    {
        report.Setting("folder", Path.GetFullPath(Folder));
        report.Setting("device", Device.ToString());
        report.Setting("epochs", Epochs);
        report.Setting("batch", BatchSize);
        report.Setting("arch", Architecture.Name);
        report.Setting("lr", LearningRate);
        report.Setting("pretrained", Pretrained);
        report.Setting("augment", Augment);
        report.Setting("progress", Progress);
        report.Setting("warmupBatches", WarmupBatches);
        report.Setting("size", ImageSize is null ? JsonValue.Create("first image") : JsonValue.Create(ImageSize.Value));
    }
}
