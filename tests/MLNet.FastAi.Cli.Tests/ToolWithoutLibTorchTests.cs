using MLNet.FastAi.Tests.Packaging;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>
/// The README's route to a GPU: the tool published without libtorch (-p:FastAiTorchBackend=none) and run on the
/// libtorch MLNET_FASTAI_LIBTORCH names. No GPU here, so the CPU libtorch from NuGet stands in for a CUDA one: it
/// trains on it, and asking it for CUDA names that folder.
/// </summary>
[Trait("Category", "Packaging")]
[Trait("Category", "Slow")]
public sealed class ToolWithoutLibTorchTests
{
    [Fact]
    public void PublishedWithoutABackend_TrainsOnTheLibTorchFolderItIsGiven()
    {
        using var root = new TemporaryFolder("mlnet-fastai-nobackend-");
        string project = Path.Combine(TestData.RepositoryRoot, "src", "MLNet.FastAi.Cli", "MLNet.FastAi.Cli.csproj");
        string app = root["app"];
        // Its own artifacts folder: this restore drops TorchSharp-cpu, which must not reach the repository's obj/.
        var (publishCode, publishOutput) = ProcessRunner.Run("dotnet",
            $"publish \"{project}\" -c Release -p:FastAiTorchBackend=none --artifacts-path \"{root["artifacts"]}\" -o \"{app}\"",
            TestData.RepositoryRoot, timeoutSeconds: 600);
        Assert.True(publishCode == 0, "dotnet publish -p:FastAiTorchBackend=none failed:\n" + publishOutput);
        var bundled = Directory.EnumerateFiles(app, "*torch_cpu*", SearchOption.AllDirectories).ToList();
        Assert.True(bundled.Count == 0, "published without a backend, yet carries " + string.Join(", ", bundled));

        string libtorch = Path.Combine(ProcessRunner.NuGetPackages, "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
        Assert.True(File.Exists(Path.Combine(libtorch, "libtorch_cpu.so")), $"expected the libtorch-cpu package at {libtorch}");
        var env = new Dictionary<string, string?>
        {
            ["MLNET_FASTAI_LIBTORCH"] = libtorch,
            ["MLNET_FASTAI_NATIVE_CACHE"] = root["native-cache"],
        };
        string data = TestData.MnistSlice(root["mnist"], [3, 7], trainPerDigit: 10, testPerDigit: 5);
        string tool = Path.Combine(app, "mlnet-fastai.dll");
        string zip = root["model.zip"];

        var (trainCode, trainOutput) = ProcessRunner.Run("dotnet",
            $"\"{tool}\" train \"{data}\" --train training --valid testing --schedule one-cycle --epochs 1 --device cpu --seed 1 --out \"{zip}\"",
            root.Path, env, timeoutSeconds: 300);
        Assert.True(trainCode == 0, "train on MLNET_FASTAI_LIBTORCH failed:\n" + trainOutput);
        Assert.True(File.Exists(zip), "no model zip:\n" + trainOutput);

        var (cudaCode, cudaOutput) = ProcessRunner.Run("dotnet",
            $"\"{tool}\" train \"{data}\" --train training --valid testing --device cuda --out \"{zip}\"", root.Path, env, timeoutSeconds: 300);
        Assert.True(cudaCode == 3, "a CPU libtorch asked for CUDA must be a runtime failure (3):\n" + cudaOutput);
        Assert.Contains($"no CUDA device is usable with the libtorch in '{libtorch}'", cudaOutput);
    }
}
