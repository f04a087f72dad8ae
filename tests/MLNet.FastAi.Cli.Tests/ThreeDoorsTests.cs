using Microsoft.ML;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using TorchSharp;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>
/// The fastai API, the ML.NET estimator and the command line are doors onto one engine: the same small run (a
/// random-initialised ResNet-18, 16-px digits, batch 8, seed 3, fit_one_cycle for one epoch) through each gives the
/// same weights, bit for bit; and a refused setting is the same refusal, named in each door's words.
/// </summary>
public sealed class ThreeDoorsTests : IDisposable
{
    private const int Seed = 3, Size = 16, Batch = 8;
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSameRun_ThroughEachDoor_GivesIdenticalWeights(bool mixUp)
    {
        string data = TestData.MnistSlice(_folder["data"], [3, 7, 8], trainPerDigit: 8, testPerDigit: 3);
        torch.set_num_threads(1);

        // The fastai API.
        using var loaders = ImageDataLoaders.FromFolder(data, train: "training", valid: "testing",
            options: new ImageDataOptions { ImageSize = Size, BatchSize = Batch, Seed = Seed, Log = _ => { } });
        using var learner = Learner.Vision(loaders, new VisionLearnerOptions
        {
            Pretrained = PretrainedSource.None, Device = ComputeDevice.Cpu, Seed = Seed, ShowProgress = false,
        });
        if (mixUp) learner.AddCallback(new MixUp(0.4));
        var initial = Weights(learner);
        learner.FitOneCycle(1);
        var fastAi = Weights(learner);
        Assert.Contains(initial, p => !p.Value.AsSpan().SequenceEqual(fastAi[p.Key]));  // it trained: identical weights are not untouched ones

        // The ML.NET estimator, on the same folders as path columns.
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromImageFolder(Path.Combine(data, "training"));
        var valid = ml.Data.LoadFromImageFolder(Path.Combine(data, "testing"));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var estimator = ml.MulticlassClassification.Trainers.FastAiCnn(new FastAiCnnOptions
        {
            ImageSize = Size, BatchSize = Batch, Seed = Seed, Pretrained = PretrainedSource.None, Device = ComputeDevice.Cpu,
            Schedule = TrainingSchedule.OneCycle, Epochs = 1, MixUp = mixUp ? 0.4 : null,
        });
        using var model = estimator.Fit(keys.Transform(train), keys.Transform(valid));
        Assert.Equal(learner.Data.Classes, model.Classes);
        AssertSame(fastAi, Weights(model.Learner), "the estimator");

        // The command line, whose checkpoint is read back into a learner of the same shape.
        string checkpoint = _folder["cli.ckpt"];
        string[] arguments = ["train", data, "--train", "training", "--valid", "testing", "--no-pretrained", "--device", "cpu",
            "--image-size", $"{Size}", "--batch-size", $"{Batch}", "--seed", $"{Seed}", "--schedule", "one-cycle", "--epochs", "1",
            "--out", _folder["cli.zip"], "--checkpoint", checkpoint];
        var run = Cli.Run(mixUp ? [.. arguments, "--mixup"] : arguments);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var reader = Learner.Vision(loaders, new VisionLearnerOptions { Pretrained = PretrainedSource.None, Device = ComputeDevice.Cpu, ShowProgress = false });
        reader.Load(checkpoint, withOptimizer: false);
        AssertSame(fastAi, Weights(reader), "the command line");
    }

    [Fact]
    public void ARefusedSetting_IsOneRefusal_NamedInEachDoorsWords()
    {
        // fastai API.
        var fastAi = Assert.Throws<OptionException>(() => new ImageDataOptions { ItemSize = 160, ImageSize = 224 }.Validate());
        Assert.Equal(OptionKey.ItemSize, fastAi.Option);
        Assert.Equal(160, fastAi.Value);
        Assert.StartsWith("ImageDataOptions.ItemSize (160) must be at least ImageDataOptions.ImageSize (224)", fastAi.Message);

        // ML.NET estimator: the same check, in FastAiCnnOptions' names.
        var ml = new MLContext(seed: 0);
        var estimator = Assert.Throws<OptionException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(new FastAiCnnOptions { ItemSize = 160, ImageSize = 224 }));
        Assert.Equal(OptionKey.ItemSize, estimator.Option);
        Assert.StartsWith("FastAiCnnOptions.ItemSize (160) must be at least FastAiCnnOptions.ImageSize (224)", estimator.Message);
        Assert.Equal("ItemSize", estimator.ParamName);

        // Command line: its flags, before any input is looked at.
        var cli = Cli.Run("train", "/no/such/data", "--item-size", "160", "--image-size", "224");
        Assert.Equal(ExitCodes.Usage, cli.ExitCode);
        Assert.StartsWith("error: --item-size (160) must be at least --image-size (224)", cli.Error);

        // One message, three renderings.
        Assert.Equal(estimator.Message, fastAi.MessageFor(OptionDoor.Estimator));
        Assert.Equal(cli.Error.Split('\n')[0]["error: ".Length..].TrimEnd('\r'), fastAi.MessageFor(OptionDoor.CommandLine));
    }

    [Fact]
    public void AdviceThatDiffersByDoor_IsRenderedByTheDoor()
    {
        Assert.Equal("set ImageDataOptions.OnBadImage = BadImageHandling.Skip", OptionKey.OnBadImage.SettingFor(OptionDoor.FastAi, BadImageHandling.Skip));
        Assert.Equal("set FastAiCnnOptions.OnBadImage = BadImageHandling.Skip", OptionKey.OnBadImage.SettingFor(OptionDoor.Estimator, BadImageHandling.Skip));
        Assert.Equal("pass --skip-bad-images", OptionKey.OnBadImage.SettingFor(OptionDoor.CommandLine, BadImageHandling.Skip));
        Assert.Equal("pass --cache disk", OptionKey.Cache.SettingFor(OptionDoor.CommandLine, ImageCacheMode.Disk));
        // A setting a door does not expose is named in words, never by another door's name.
        Assert.Equal("the memory budget", OptionKey.MemoryBudget.NameFor(OptionDoor.CommandLine));
    }

    private static Dictionary<string, float[]> Weights(Learner learner) =>
        learner.Model.state_dict().ToDictionary(p => p.Key, p => p.Value.cpu().to_type(torch.ScalarType.Float32).data<float>().ToArray());

    private static void AssertSame(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual, string door)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected)
            Assert.True(values.AsSpan().SequenceEqual(actual[name]), $"{door}: parameter '{name}' differs from the fastai API's");
    }
}
