using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Vision;

/// <summary>Body weights load from PyTorch (.pth), safetensors and TorchSharp files; wrong files are named precisely.</summary>
public sealed class WeightFilesTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mlnet-fastai-weights-" + Guid.NewGuid().ToString("N")[..8]);

    public WeightFilesTests()
    {
        TorchRuntime.EnsureInitialized();
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A torchvision-style state dict: the body's tensors plus a classifier (fc.*) that must be ignored.</summary>
    private static Dictionary<string, Tensor> TorchvisionStyleStateDict(ResNetBody source)
    {
        var dict = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        dict["fc.weight"] = randn(1000, 512);
        dict["fc.bias"] = randn(1000);
        return dict;
    }

    [Theory]
    [InlineData(".pth")]
    [InlineData(".safetensors")]
    [InlineData(".dat")]
    public void BodyWeights_RoundTripThroughEachFormat(string extension)
    {
        manual_seed(11);
        using var source = new ResNetBody(ResNetArchitecture.ResNet18);
        using (no_grad()) foreach (var (_, t) in source.state_dict()) if (t.is_floating_point()) t.copy_(randn_like(t));
        string path = Path.Combine(_folder, "weights" + extension);
        var dict = TorchvisionStyleStateDict(source);
        switch (extension)
        {
            case ".pth": PyTorchPickler.PickleStateDict(path, dict); break;
            case ".safetensors": Safetensors.SaveStateDict(path, dict); break;
            default: using (var f = File.Create(path)) TorchSharpStateDict.Write(f, dict.Select(kv => (kv.Key, kv.Value))); break;
        }

        using var target = new ResNetBody(ResNetArchitecture.ResNet18);
        WeightFiles.LoadBody(target, path);
        foreach (var ((name, expected), (_, actual)) in source.state_dict().Zip(target.state_dict()))
            Assert.True(expected.equal(actual).all().item<bool>(), $"{name} differs after loading a {extension} file");
    }

    [Fact]
    public void ShapeMismatch_NamesTheFirstTensor()
    {
        using var resnet34 = new ResNetBody(ResNetArchitecture.ResNet50);
        string path = Path.Combine(_folder, "resnet50.safetensors");
        Safetensors.SaveStateDict(path, resnet34.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value));
        using var target = new ResNetBody(ResNetArchitecture.ResNet18);
        var error = Assert.Throws<InvalidDataException>(() => WeightFiles.LoadBody(target, path));
        Assert.Contains(path, error.Message);
        Assert.Contains("layer1.0.conv1.weight", error.Message);
        Assert.Contains("shape", error.Message);
    }

    [Fact]
    public void MissingTensor_AndTruncatedFile_AreNamed()
    {
        using var source = new ResNetBody(ResNetArchitecture.ResNet18);
        var partial = source.state_dict().Where(kv => !kv.Key.StartsWith("layer4")).ToDictionary(kv => kv.Key, kv => kv.Value);
        string path = Path.Combine(_folder, "partial.dat");
        using (var f = File.Create(path)) TorchSharpStateDict.Write(f, partial.Select(kv => (kv.Key, kv.Value)));
        using var target = new ResNetBody(ResNetArchitecture.ResNet18);
        var missing = Assert.Throws<InvalidDataException>(() => WeightFiles.LoadBody(target, path));
        Assert.Contains("layer4.0.conv1.weight", missing.Message);

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => WeightFiles.LoadBody(target, path));
        Assert.Contains(path, truncated.Message);
        Assert.Contains("truncated", truncated.Message);
    }
}
