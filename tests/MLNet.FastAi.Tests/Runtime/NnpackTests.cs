using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Packaging;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Runtime;

/// <summary>libtorch's per-call NNPACK warnings never reach the console.</summary>
[Trait("Category", "Slow")]
public sealed class NnpackTests(ITestOutputHelper output)
{
    private const string Warning = "NNPACK";

    [Fact]
    public void SingleImagePredict_WritesNoNnpackWarning()
    {
        string quiet = Child(keepNnpack: false);
        // The control: NNPACK switched back on. Where NNPACK does not know the CPU (AVX-512 servers) this prints the
        // warnings the package removes; where it knows it, nothing, and the test still checks the package's own run.
        string control = Child(keepNnpack: true);
        int controlWarnings = control.Split('\n').Count(l => l.Contains(Warning, StringComparison.Ordinal));
        output.WriteLine($"NNPACK warnings with NNPACK on: {controlWarnings}");
        Assert.Contains("predicted ", quiet);
        Assert.DoesNotContain(Warning, quiet);
    }

    private static string Child(bool keepNnpack)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var (code, text) = ProcessRunner.Run(host, $"\"{typeof(NnpackChild).Assembly.Location}\" nnpack-child{(keepNnpack ? " keep-nnpack" : "")}",
            AppContext.BaseDirectory, timeoutSeconds: 120);
        Assert.True(code == 0, text);
        return text;
    }
}

/// <summary>A fresh process that predicts one MNIST digit with an untrained tiny ResNet on one thread.</summary>
internal static class NnpackChild
{
    public static int Run(bool keepNnpack)
    {
        TorchRuntime.EnsureInitialized();
        if (keepNnpack) NnpackSwitch.TrySet(enabled: true);
        // One thread and one image: the convolutions oneDNN leaves to libtorch's other backends, where NNPACK is asked.
        set_num_threads(1);
        var items = MnistSample.Take("training", 2);
        using var data = ImageDataLoaders.FromSplits(items, MnistSample.Take("training", 1, skip: 100),
            options: new ImageDataOptions { BatchSize = 4, Seed = 1, Normalization = NormalizationStats.Mnist, Log = _ => { } });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        Console.WriteLine($"predicted {learner.Predict(items[0].Path).Label}");
        return 0;
    }
}
