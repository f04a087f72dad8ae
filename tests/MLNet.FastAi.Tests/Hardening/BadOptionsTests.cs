using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>Twenty MNIST digits (two per class) and ten for validation at 16×16, decoded once for <see cref="BadOptionsTests"/>.</summary>
public sealed class TinyDigitsFixture : IDisposable
{
    public TinyDigitsFixture()
    {
        TestTorch.UseOneThread();
        Data = ImageDataLoaders.FromSplits(MnistSample.Take("training", 2), MnistSample.Take("training", 1, skip: 2),
            options: new ImageDataOptions { ImageSize = 16, BatchSize = 4, Seed = 1, Normalization = NormalizationStats.Mnist });
    }

    public ImageDataLoaders Data { get; }

    public Learner NewLearner(VisionLearnerOptions? options = null) => Learner.Vision(Data, (options ?? new VisionLearnerOptions()) with
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 1,
    });

    public void Dispose() => Data.Dispose();
}

/// <summary>
/// Nonsense option and argument values — negative or zero counts, NaN, infinite or negative rates, dropout of 1,
/// fractions outside (0, 1) — are refused with an ArgumentException naming the option, before any image is decoded,
/// any model is made or any batch is trained, and a refused training call leaves the learner as it was.
/// </summary>
public sealed class BadOptionsTests(TinyDigitsFixture fixture) : IClassFixture<TinyDigitsFixture>, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-bad-options-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    public static TheoryData<string, string> DataOptionCases() => new()
    {
        { "BatchSize = 0", "BatchSize" }, { "BatchSize = -1", "BatchSize" }, { "ValidBatchSize = 0", "ValidBatchSize" },
        { "ImageSize = 0", "ImageSize" }, { "ImageSize = -16", "ImageSize" }, { "ImageSize = 5000", "ImageSize" },
        { "MaxImagePixels = 0", "MaxImagePixels" }, { "Augmentation.MaxRotate = NaN", "MaxRotate" }, { "Augmentation.MinZoom = 0", "MinZoom" },
    };

    private static ImageDataOptions DataOptions(string change) => change switch
    {
        "BatchSize = 0" => new() { BatchSize = 0 },
        "BatchSize = -1" => new() { BatchSize = -1 },
        "ValidBatchSize = 0" => new() { ValidBatchSize = 0 },
        "ImageSize = 0" => new() { ImageSize = 0 },
        "ImageSize = -16" => new() { ImageSize = -16 },
        "ImageSize = 5000" => new() { ImageSize = 5000 },
        "MaxImagePixels = 0" => new() { MaxImagePixels = 0 },
        "Augmentation.MaxRotate = NaN" => new() { Augmentation = new AugmentationOptions { MaxRotate = float.NaN } },
        "Augmentation.MinZoom = 0" => new() { Augmentation = new AugmentationOptions { MinZoom = 0 } },
        _ => throw new ArgumentException(change),
    };

    /// <summary>The folder holds an unreadable image: had any image been decoded, the error would be about it.</summary>
    [Theory]
    [MemberData(nameof(DataOptionCases))]
    public void ImageDataOptions_OutOfRange_AreRefusedNamingTheOption_BeforeAnyImageIsRead(string change, string option)
    {
        WriteFolderWithAnUnreadableImage();

        var e = Assert.ThrowsAny<ArgumentException>(() => ImageDataLoaders.FromFolder(_root, options: DataOptions(change)));

        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
    }

    [Fact]
    public void NormalizationWithAZeroStandardDeviation_IsRefusedBeforeAnyImageIsRead()
    {
        WriteFolderWithAnUnreadableImage();
        var options = new ImageDataOptions { Normalization = new NormalizationStats(new[] { 0.5f }, new[] { 0f }) };

        var e = Assert.ThrowsAny<ArgumentException>(() => ImageDataLoaders.FromFolder(_root, options: options));

        Assert.Contains("standard deviation", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.2)]
    [InlineData(double.NaN)]
    public void ValidPct_OutsideZeroToOne_IsRefusedNamingIt_ByEveryFactoryThatSplits(double validPct)
    {
        var (paths, labels) = WriteFolderWithAnUnreadableImage();
        File.WriteAllLines(Path.Combine(_root, "labels.csv"), paths.Zip(labels, (p, l) => $"{Path.GetRelativePath(_root, p)},{l}").Prepend("file,label"));

        foreach (var refusal in new[]
                 {
                     Assert.Throws<OptionException>(() => ImageDataLoaders.FromFolder(_root, validPct: validPct)),
                     Assert.Throws<OptionException>(() => ImageDataLoaders.FromLists(paths, labels, validPct)),
                     Assert.Throws<OptionException>(() => ImageDataLoaders.FromCsv(_root, validPct: validPct)),
                 })
        {
            Assert.Equal(OptionKey.ValidationFraction, refusal.Option);
            Assert.Contains("validPct", refusal.Message);
        }
    }

    public static TheoryData<string, string> LearnerOptionCases() => new()
    {
        { "Dropout = 1", "Dropout" }, { "Dropout = -0.1", "Dropout" }, { "Dropout = NaN", "Dropout" },
        { "LearningRate = 0", "LearningRate" }, { "LearningRate = -1e-3", "LearningRate" }, { "LearningRate = NaN", "LearningRate" }, { "LearningRate = +inf", "LearningRate" },
        { "WeightDecay = -0.01", "WeightDecay" }, { "WeightDecay = NaN", "WeightDecay" },
        { "LabelSmoothing = 1", "LabelSmoothing" }, { "LabelSmoothing = NaN", "LabelSmoothing" },
        { "Momentums = (0.95, NaN, 0.95)", "Momentums" }, { "Momentums = (0.95, 1, 0.95)", "Momentums" },
        { "Pretrained = File without WeightsFile", "WeightsFile" },
    };

    private static VisionLearnerOptions LearnerOptions(string change) => change switch
    {
        "Dropout = 1" => new() { Dropout = 1 },
        "Dropout = -0.1" => new() { Dropout = -0.1 },
        "Dropout = NaN" => new() { Dropout = double.NaN },
        "LearningRate = 0" => new() { LearningRate = 0 },
        "LearningRate = -1e-3" => new() { LearningRate = -1e-3 },
        "LearningRate = NaN" => new() { LearningRate = double.NaN },
        "LearningRate = +inf" => new() { LearningRate = double.PositiveInfinity },
        "WeightDecay = -0.01" => new() { WeightDecay = -0.01 },
        "WeightDecay = NaN" => new() { WeightDecay = double.NaN },
        "LabelSmoothing = 1" => new() { LabelSmoothing = 1 },
        "LabelSmoothing = NaN" => new() { LabelSmoothing = double.NaN },
        "Momentums = (0.95, NaN, 0.95)" => new() { Momentums = (0.95, double.NaN, 0.95) },
        "Momentums = (0.95, 1, 0.95)" => new() { Momentums = (0.95, 1, 0.95) },
        "Pretrained = File without WeightsFile" => new() { Pretrained = PretrainedSource.File },
        _ => throw new ArgumentException(change),
    };

    [Theory]
    [MemberData(nameof(LearnerOptionCases))]
    public void VisionLearnerOptions_OutOfRange_AreRefusedNamingTheOption(string change, string option)
    {
        var options = LearnerOptions(change) with { Architecture = SmallMnistFixture.TinyResNet, ShowProgress = false, Device = ComputeDevice.Cpu };
        if (options.Pretrained is null) options = options with { Pretrained = PretrainedSource.None };

        var e = Assert.ThrowsAny<ArgumentException>(() => Learner.Vision(fixture.Data, options));

        Assert.Equal(option, e.ParamName);
        // Nothing was set on the data either: it keeps the normalization it was built with.
        Assert.Equal(NormalizationStats.Mnist, fixture.Data.Normalization);
    }

    /// <summary>Every training entry point with one argument out of range, and the argument the error must name.</summary>
    public static TheoryData<string, string> TrainingCallCases() => new()
    {
        { "Fit(0)", "epochs" }, { "Fit(-1)", "epochs" }, { "Fit(1, lr: NaN)", "lr" }, { "Fit(1, lr: -1e-3)", "lr" }, { "Fit(1, lr: 0)", "lr" },
        { "Fit(1, lr: +inf)", "lr" }, { "Fit(1, lr: slice(NaN, 1e-2))", "lr" }, { "Fit(1, weightDecay: NaN)", "weightDecay" },
        { "Fit(1, weightDecay: -1)", "weightDecay" }, { "Fit(2, startEpoch: 2)", "startEpoch" },
        { "FitOneCycle(0)", "epochs" }, { "FitOneCycle(1, lrMax: NaN)", "lrMax" }, { "FitOneCycle(1, pctStart: NaN)", "pctStart" },
        { "FitOneCycle(1, pctStart: 1.5)", "pctStart" }, { "FitOneCycle(1, div: 0)", "div" }, { "FitOneCycle(1, divFinal: NaN)", "divFinal" },
        { "FitOneCycle(1, momentums: (0.95, 1.2, 0.95))", "momentums" }, { "FitOneCycle(1, weightDecay: NaN)", "weightDecay" },
        { "FineTune(0)", "epochs" }, { "FineTune(1, baseLr: NaN)", "baseLr" }, { "FineTune(1, baseLr: -2e-3)", "baseLr" },
        { "FineTune(1, freezeEpochs: -1)", "freezeEpochs" }, { "FineTune(1, lrMult: 0)", "lrMult" }, { "FineTune(1, pctStart: NaN)", "pctStart" },
        { "FineTune(1, div: +inf)", "div" }, { "FineTune(1, weightDecay: NaN)", "weightDecay" },
        { "FitFlatCos(0)", "epochs" }, { "FitFlatCos(1, pctStart: 2)", "pctStart" }, { "FitFlatCos(1, pctStart: NaN)", "pctStart" },
        { "FitFlatCos(1, divFinal: 0)", "divFinal" }, { "FitFlatCos(1, lr: NaN)", "lr" },
        { "LrFind(startLr: NaN)", "startLr" }, { "LrFind(endLr: +inf)", "endLr" }, { "LrFind(startLr: 1, endLr: 0.1)", "endLr" }, { "LrFind(iterations: 1)", "iterations" },
    };

    private static void Call(Learner learn, string call)
    {
        const double NaN = double.NaN, Inf = double.PositiveInfinity;
        switch (call)
        {
            case "Fit(0)": learn.Fit(0); break;
            case "Fit(-1)": learn.Fit(-1); break;
            case "Fit(1, lr: NaN)": learn.Fit(1, NaN); break;
            case "Fit(1, lr: -1e-3)": learn.Fit(1, -1e-3); break;
            case "Fit(1, lr: 0)": learn.Fit(1, 0); break;
            case "Fit(1, lr: +inf)": learn.Fit(1, Inf); break;
            case "Fit(1, lr: slice(NaN, 1e-2))": learn.Fit(1, LearningRates.Slice(NaN, 1e-2)); break;
            case "Fit(1, weightDecay: NaN)": learn.Fit(1, weightDecay: NaN); break;
            case "Fit(1, weightDecay: -1)": learn.Fit(1, weightDecay: -1); break;
            case "Fit(2, startEpoch: 2)": learn.Fit(2, startEpoch: 2); break;
            case "FitOneCycle(0)": learn.FitOneCycle(0); break;
            case "FitOneCycle(1, lrMax: NaN)": learn.FitOneCycle(1, NaN); break;
            case "FitOneCycle(1, pctStart: NaN)": learn.FitOneCycle(1, pctStart: NaN); break;
            case "FitOneCycle(1, pctStart: 1.5)": learn.FitOneCycle(1, pctStart: 1.5); break;
            case "FitOneCycle(1, div: 0)": learn.FitOneCycle(1, div: 0); break;
            case "FitOneCycle(1, divFinal: NaN)": learn.FitOneCycle(1, divFinal: NaN); break;
            case "FitOneCycle(1, momentums: (0.95, 1.2, 0.95))": learn.FitOneCycle(1, momentums: (0.95, 1.2, 0.95)); break;
            case "FitOneCycle(1, weightDecay: NaN)": learn.FitOneCycle(1, weightDecay: NaN); break;
            case "FineTune(0)": learn.FineTune(0); break;
            case "FineTune(1, baseLr: NaN)": learn.FineTune(1, baseLr: NaN); break;
            case "FineTune(1, baseLr: -2e-3)": learn.FineTune(1, baseLr: -2e-3); break;
            case "FineTune(1, freezeEpochs: -1)": learn.FineTune(1, freezeEpochs: -1); break;
            case "FineTune(1, lrMult: 0)": learn.FineTune(1, lrMult: 0); break;
            case "FineTune(1, pctStart: NaN)": learn.FineTune(1, pctStart: NaN); break;
            case "FineTune(1, div: +inf)": learn.FineTune(1, div: Inf); break;
            case "FineTune(1, weightDecay: NaN)": learn.FineTune(1, weightDecay: NaN); break;
            case "FitFlatCos(0)": learn.FitFlatCos(0); break;
            case "FitFlatCos(1, pctStart: 2)": learn.FitFlatCos(1, pctStart: 2); break;
            case "FitFlatCos(1, pctStart: NaN)": learn.FitFlatCos(1, pctStart: NaN); break;
            case "FitFlatCos(1, divFinal: 0)": learn.FitFlatCos(1, divFinal: 0); break;
            case "FitFlatCos(1, lr: NaN)": learn.FitFlatCos(1, NaN); break;
            case "LrFind(startLr: NaN)": learn.LrFind(startLr: NaN); break;
            case "LrFind(endLr: +inf)": learn.LrFind(endLr: Inf); break;
            case "LrFind(startLr: 1, endLr: 0.1)": learn.LrFind(startLr: 1, endLr: 0.1); break;
            case "LrFind(iterations: 1)": learn.LrFind(iterations: 1); break;
            default: throw new ArgumentException(call);
        }
    }

    [Theory]
    [MemberData(nameof(TrainingCallCases))]
    public void TrainingArguments_OutOfRange_AreRefusedNamingTheArgument_BeforeAnyBatch_LeavingTheLearnerAsItWas(string call, string argument)
    {
        using var learn = fixture.NewLearner();
        var events = new EventCounter();
        learn.AddCallback(events);
        var weights = TestTorch.Snapshot(learn.Model);
        var hypers = HyperSnapshot(learn);
        int frozen = learn.FrozenGroups;

        var e = Assert.ThrowsAny<ArgumentException>(() => Call(learn, call));

        Assert.Equal(argument, e.ParamName);
        Assert.Equal(0, events.Fits);
        Assert.Equal(0, events.Batches);
        Assert.Empty(learn.Recorder.History);
        Assert.False(learn.IsFitting);
        Assert.Equal(frozen, learn.FrozenGroups);
        Assert.Equal(hypers, HyperSnapshot(learn));
        Assert.Equal(0, TestTorch.MaxDifference(weights, TestTorch.Snapshot(learn.Model)));
    }

    public static TheoryData<string, string> EstimatorOptionCases() => new()
    {
        { "Epochs = 0", "Epochs" }, { "Epochs = -1", "Epochs" }, { "BatchSize = -8", "BatchSize" }, { "FreezeEpochs = -1", "FreezeEpochs" }, { "BatchSize = 0", "BatchSize" }, { "ImageSize = 0", "ImageSize" },
        { "LearningRate = NaN", "LearningRate" }, { "BaseLearningRate = -1", "BaseLearningRate" }, { "WeightDecay = NaN", "WeightDecay" },
        { "Dropout = 1", "Dropout" }, { "ValidationFraction = -0.1", "ValidationFraction" }, { "ValidationFraction = 1", "ValidationFraction" },
        { "ValidationFraction = NaN", "ValidationFraction" }, { "LabelSmoothing = NaN", "LabelSmoothing" },
        { "FeatureColumnName = blank", "FeatureColumnName" }, { "FeatureColumnName and ImageColumnName differ", "FeatureColumnName" },
        { "ScoreColumnName = empty", "ScoreColumnName" }, { "PredictedLabelColumnName = ScoreColumnName", "PredictedLabelColumnName" },
        { "EarlyStopping.Patience = 0", "EarlyStopping" }, { "EarlyStopping.MinDelta = NaN", "EarlyStopping" }, { "EarlyStopping.Metric = f1", "EarlyStopping" },
    };

    private static void Apply(FastAiCnnOptions o, string change)
    {
        switch (change)
        {
            case "Epochs = 0": o.Epochs = 0; break;
            case "Epochs = -1": o.Epochs = -1; break;
            case "BatchSize = -8": o.BatchSize = -8; break;
            case "FreezeEpochs = -1": o.FreezeEpochs = -1; break;
            case "BatchSize = 0": o.BatchSize = 0; break;
            case "ImageSize = 0": o.ImageSize = 0; break;
            case "LearningRate = NaN": o.LearningRate = double.NaN; break;
            case "BaseLearningRate = -1": o.BaseLearningRate = -1; break;
            case "WeightDecay = NaN": o.WeightDecay = double.NaN; break;
            case "Dropout = 1": o.Dropout = 1; break;
            case "ValidationFraction = -0.1": o.ValidationFraction = -0.1; break;
            case "ValidationFraction = 1": o.ValidationFraction = 1; break;
            case "ValidationFraction = NaN": o.ValidationFraction = double.NaN; break;
            case "LabelSmoothing = NaN": o.LabelSmoothing = double.NaN; break;
            case "FeatureColumnName = blank": o.FeatureColumnName = " "; break;
            case "FeatureColumnName and ImageColumnName differ": o.FeatureColumnName = "Image"; o.ImageColumnName = "ImagePath"; break;
            case "ScoreColumnName = empty": o.ScoreColumnName = ""; break;
            case "PredictedLabelColumnName = ScoreColumnName": o.PredictedLabelColumnName = o.ScoreColumnName; break;
            case "EarlyStopping.Patience = 0": o.EarlyStopping = new FastAiEarlyStopping { Patience = 0 }; break;
            case "EarlyStopping.MinDelta = NaN": o.EarlyStopping = new FastAiEarlyStopping { MinDelta = double.NaN }; break;
            case "EarlyStopping.Metric = f1": o.EarlyStopping = new FastAiEarlyStopping { Metric = "f1" }; break;
            default: throw new ArgumentException(change);
        }
    }

    /// <summary>
    /// Refused when the estimator is made; and, since the options object stays mutable, again by <c>Fit</c> when the
    /// value was changed afterwards: before the input is even looked at (it lacks every column the trainer needs).
    /// </summary>
    [Theory]
    [MemberData(nameof(EstimatorOptionCases))]
    public void FastAiCnnOptions_OutOfRange_AreRefusedNamingTheOption_WhenTheEstimatorIsMade_AndByFitIfChangedLater(string change, string option)
    {
        var context = new MLContext(seed: 1);
        var options = new FastAiCnnOptions { Device = ComputeDevice.Cpu };
        Apply(options, change);
        var e = Assert.ThrowsAny<ArgumentException>(() => context.MulticlassClassification.Trainers.FastAiCnn(options));
        Assert.Equal(option, Assert.IsType<OptionException>(e).Option.Name);
        Assert.Equal(option, e.ParamName);
        Assert.Contains($"FastAiCnnOptions.{option}", e.Message);

        var later = new FastAiCnnOptions { Device = ComputeDevice.Cpu };
        var estimator = context.MulticlassClassification.Trainers.FastAiCnn(later);
        Apply(later, change);
        var noColumns = context.Data.LoadFromEnumerable(new[] { new UnrelatedRow { Unrelated = 1f } });
        e = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(noColumns));
        Assert.Equal(option, e.ParamName);
    }

    /// <summary>
    /// The estimator takes the GPU settings from the user's MLContext (through the catalog): GPU 7 does not exist
    /// here, with or without CUDA, so training must refuse to start rather than quietly use another device.
    /// </summary>
    [Fact]
    public void Estimator_HonoursTheMLContextsGpuDeviceId_RefusingAGpuThatDoesNotExist()
    {
        var context = new MLContext(seed: 1) { GpuDeviceId = 7 };
        var rows = context.Data.LoadFromEnumerable(MnistSample.Take("training", 1).Select(t => new ImageRow { ImagePath = t.Path, Label = t.Label }));
        var keyed = context.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
        var options = new FastAiCnnOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, Epochs = 1, ImageSize = 16, ValidationFraction = 0.3,
        };

        var e = Assert.Throws<InvalidOperationException>(() => context.MulticlassClassification.Trainers.FastAiCnn(options).Fit(keyed));

        Assert.True(e.Message.Contains("GPU 7 was asked for") || e.Message.Contains("CUDA was asked for"), e.Message);
    }

    private static List<double> HyperSnapshot(Learner learn) =>
        learn.Hypers.SelectMany(h => new[] { h.LearningRate, h.Momentum, h.SquareMomentum, h.Epsilon, h.WeightDecay }).ToList();

    /// <summary>train/{3,8} with two MNIST digits each plus one unreadable file, valid/{3,8} with one each.</summary>
    private (List<string> Paths, List<string> Labels) WriteFolderWithAnUnreadableImage()
    {
        var paths = new List<string>();
        var labels = new List<string>();
        foreach (var (split, items) in new[] { ("train", MnistSample.Take("training", 2)), ("valid", MnistSample.Take("training", 1, skip: 2)) })
            foreach (var (path, label) in items.Where(t => t.Label is "3" or "8"))
            {
                string target = Path.Combine(_root, split, label, Path.GetFileName(path));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(path, target);
                paths.Add(target);
                labels.Add(label);
            }
        string bad = Path.Combine(_root, "train", "3", "unreadable.png");
        File.WriteAllBytes(bad, new byte[] { 1, 2, 3, 4, 5 });
        paths.Add(bad);
        labels.Add("3");
        return (paths, labels);
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class UnrelatedRow
    {
        public float Unrelated { get; set; }
    }

    private sealed class EventCounter : Callback
    {
        public int Fits { get; private set; }
        public int Batches { get; private set; }
        public override void BeforeFit() => Fits++;
        public override void BeforeBatch() => Batches++;
    }
}
