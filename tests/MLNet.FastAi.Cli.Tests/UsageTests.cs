namespace MLNet.FastAi.Cli.Tests;

/// <summary>Help, and the exit codes scripts rely on: 1 for a wrong command line, 2 for a wrong input.</summary>
public sealed class UsageTests
{
    [Theory]
    [InlineData("train", "--epochs", "--freeze-epochs", "--schedule", "--arch", "--weights", "--no-pretrained", "--valid-pct", "--csv", "--augment", "--no-flip", "--device", "MLNET_FASTAI_LIBTORCH", "--tensorboard", "--early-stopping", "--out", "--onnx", "--int8", "--checkpoint", "--report")]
    [InlineData("lr-find", "--start-lr", "--end-lr", "--iterations", "--plot", "--arch", "--batch-size")]
    [InlineData("evaluate", "<model>", "<data>", "--report-dir", "--html", "--fn-col", "--label-col")]
    [InlineData("predict", "<model>", "<images>", "--json", "--top")]
    [InlineData("export-onnx", "<model>", "--out", ".ckpt")]
    [InlineData("interpret", "<model>", "<data>", "--out", "--top-losses")]
    public void Help_OfEveryCommand_ExitsZero_AndDescribesItsOptions_AndTheExitCodes(string command, params string[] mentioned)
    {
        var run = Cli.Run(command, "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"mlnet-fastai {command}", run.Out);
        Assert.All(mentioned, m => Assert.Contains(m, run.Out));
        Assert.Contains("Exit codes: 0 success, 1 usage error", run.Out);
        Assert.Empty(run.Error);
    }

    [Fact]
    public void Help_OfTheTool_ListsEveryCommand()
    {
        var run = Cli.Run("--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(new[] { "train", "lr-find", "evaluate", "predict", "export-onnx", "interpret", "--verbose" }, c => Assert.Contains(c, run.Out));
    }

    [Theory]
    [InlineData("train", "data", "--bogus")]
    [InlineData("predict", "model.zip", "a.png", "--jsonn")]
    [InlineData("fly")]
    public void AnUnknownOptionOrCommand_IsAUsageError(params string[] args)
    {
        var run = Cli.Run(args);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(args[^1], run.Error);
        Assert.Contains("--help", run.Error);
    }

    [Fact]
    public void NoCommand_IsAUsageError()
    {
        var run = Cli.Run();

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("error:", run.Error);
    }

    [Theory]
    [InlineData("train", "--epochs", "-1")]
    [InlineData("train", "--epochs", "three")]
    [InlineData("train", "--image-size", "0")]
    [InlineData("train", "--batch-size", "0")]
    [InlineData("train", "--valid-pct", "1.5")]
    [InlineData("train", "--lr", "-0.1")]
    [InlineData("train", "--arch", "resnet99")]
    [InlineData("train", "--schedule", "cosine")]
    [InlineData("train", "--early-stopping", "0")]
    [InlineData("lr-find", "--iterations", "1")]
    [InlineData("lr-find", "--normalize", "coco")]
    public void ABadOptionValue_IsAUsageError_NamingTheOption(string command, string option, string value)
    {
        // The data path does not exist: the bad value must be reported first, before any input is looked at.
        var run = Cli.Run(command, "/no/such/data", option, value);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(option, run.Error);
        Assert.DoesNotContain("   at ", run.Error);
    }

    [Fact]
    public void ABadTopValue_IsAUsageError_NamingTheOption()
    {
        var run = Cli.Run("predict", "model.zip", "a.png", "--top", "0");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("--top must be at least 1", run.Error);
    }

    [Theory]
    [InlineData("--valid-pct", "--valid", "testing", "--valid-pct", "0.2")]
    [InlineData("--lr", "--valid", "testing", "--lr", "0.01")]
    [InlineData("--base-lr", "--valid", "testing", "--schedule", "one-cycle", "--base-lr", "0.01")]
    [InlineData("--freeze-epochs", "--valid", "testing", "--schedule", "fit", "--freeze-epochs", "2")]
    [InlineData("--no-flip", "--valid", "testing", "--no-flip")]
    [InlineData("--no-pretrained", "--valid", "testing", "--pretrained", "--no-pretrained")]
    [InlineData("--pretrained", "--valid", "testing", "--arch", "resnet34", "--pretrained")]
    [InlineData("--fn-col", "--valid", "testing", "--fn-col", "name")]
    [InlineData("--cutmix", "--valid", "testing", "--mixup", "--cutmix")]
    [InlineData("--mixup", "--valid", "testing", "--mixup", "-1")]
    public void OptionsThatDoNotGoTogether_AreAUsageError_NamingOneOfThem(string named, params string[] options)
    {
        var run = Cli.Run(["train", TestData.MnistSample, "--train", "training", .. options]);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.StartsWith("error: ", run.Error);
        Assert.Contains(named, run.Error);
        Assert.DoesNotContain("Loading images", run.Out);
    }

    [Theory]
    [InlineData("train", "{missing}")]
    [InlineData("lr-find", "{missing}")]
    [InlineData("train", "{sample}", "--train", "nope")]
    [InlineData("train", "{sample}", "--train", "training")]
    [InlineData("train", "{sample}", "--train", "training", "--valid", "testing", "--weights", "{missing}")]
    [InlineData("evaluate", "{missing}", "{sample}")]
    [InlineData("predict", "{missing}", "a.png")]
    [InlineData("interpret", "{missing}", "{sample}", "--out", "pictures")]
    [InlineData("export-onnx", "{missing}")]
    public void AMissingFileOrFolder_IsAnInputError_NamingThePath(params string[] template)
    {
        string missing = Path.Combine(Path.GetTempPath(), "mlnet-fastai-no-such-file", "model.zip");
        var args = template.Select(a => a.Replace("{missing}", missing).Replace("{sample}", TestData.MnistSample)).ToArray();

        var run = Cli.Run(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        string named = template.Contains("--train") && !template.Contains("--weights")
            ? Path.Combine(TestData.MnistSample, template.Contains("nope") ? "nope" : "valid")
            : missing;
        Assert.Contains(named, run.Error);
        Assert.DoesNotContain("   at ", run.Error);
    }

    [Fact]
    public void AFileThatIsNotAModel_IsAnInputError()
    {
        using var folder = new TemporaryFolder();
        string fake = folder["model.zip"];
        File.WriteAllText(fake, "not a zip");

        foreach (var args in new[] { new[] { "predict", fake, TestData.MnistSample }, ["evaluate", fake, TestData.MnistSample], ["export-onnx", fake, "--out", folder["x.onnx"]] })
        {
            var run = Cli.Run(args);
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Contains(fake, run.Error);
        }
        Assert.False(File.Exists(folder["x.onnx"]));
    }

    [Fact]
    public void ACsvWithoutTheNamedColumn_IsAnInputError_NamingTheColumn()
    {
        using var folder = new TemporaryFolder();
        string csv = folder["labels.csv"];
        File.WriteAllLines(csv, ["name,label", "training/0/0.png,0"]);

        var run = Cli.Run("train", csv, "--label-col", "digit", "--valid-pct", "0.5");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("'digit'", run.Error);
        Assert.Contains(csv, run.Error);
    }

    [Fact]
    public void ADiskCacheInAFolderThatCannotBeWritten_IsAUsageError_NamingTheOption()
    {
        using var folder = new TemporaryFolder();
        // A file where the cache folder's parent should be stops root too.
        File.WriteAllText(folder["blocker"], "not a folder");

        var run = Cli.Run("train", TestData.MnistSample, "--train", "training", "--valid", "testing", "--cache", "disk",
            "--cache-dir", Path.Combine(folder["blocker"], "cache"));

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("--cache-dir", run.Error);
        Assert.Contains("cannot be written", run.Error);
        Assert.DoesNotContain("   at ", run.Error);
        Assert.Equal("not a folder", File.ReadAllText(folder["blocker"]));
    }

    /// <summary>
    /// A batch whose training step cannot fit (ResNet-18 at 4096 px, batch 64: about 500 GiB) is refused before any image
    /// is decoded or cached: the refusal leaves the cache folder empty.
    /// </summary>
    [Fact]
    public void ATrainingThatCannotFit_IsRefusedBeforeAnyImageIsDecoded_LeavingNothingBehind()
    {
        using var folder = new TemporaryFolder();
        string cache = folder["cache"];

        var run = Cli.Run("train", TestData.MnistSample, "--train", "training", "--valid", "testing", "--image-size", "4096",
            "--batch-size", "64", "--cache", "disk", "--cache-dir", cache, "--device", "cpu");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("the activations kept for the backward pass", run.Error);
        Assert.Contains("--batch-size", run.Error);
        Assert.DoesNotContain("Train images:", run.Out);
        Assert.False(Directory.Exists(cache) && Directory.EnumerateFileSystemEntries(cache).Any(), "the refusal left files in the cache folder");
    }

    [Fact]
    public void CudaOnAMachineWithoutIt_IsARuntimeFailure()
    {
        // The tests run on TorchSharp-cpu: CUDA is never there.
        var run = Cli.Run("train", TestData.MnistSample, "--train", "training", "--valid", "testing", "--device", "cuda");

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Contains("--device cuda", run.Error);
        Assert.DoesNotContain("Loading images", run.Out);
    }

    [Fact]
    public void Verbose_AddsTheStackTrace()
    {
        var run = Cli.Run("export-onnx", "/no/such/model.zip", "--verbose");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("   at ", run.Error);
    }
}
