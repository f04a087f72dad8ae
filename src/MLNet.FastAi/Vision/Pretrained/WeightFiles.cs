using System.Collections;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Pretrained;

/// <summary>
/// Loads ResNet body weights from files: PyTorch state dicts (<c>torch.save(model.state_dict())</c>, .pth/.pt, read by
/// TorchSharp.PyBridge's restricted unpickler, which builds tensors and dictionaries only), safetensors, and
/// TorchSharp's own format. Names follow torchvision (<c>conv1.weight</c>, <c>layer1.0.bn1.running_mean</c>, ...);
/// torchvision's classifier (<c>fc.*</c>) is ignored because fastai replaces it with its own head.
/// </summary>
internal static class WeightFiles
{
    public static void LoadBody(ResNetBody body, string path)
    {
        var source = Read(path);
        try
        {
            StateDictCopier.Load(body, source, $"Weights file '{path}'",
                allowMissing: name => name.EndsWith("num_batches_tracked", StringComparison.Ordinal),
                ignoredSourceKeys: name => name.StartsWith("fc.", StringComparison.Ordinal) || name.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var t in source.Values) t.Dispose();
        }
    }

    /// <summary>Reads a state dict file into named tensors, choosing the format by extension.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file '{path}' not found.", path);
        string what = $"Weights file '{path}'";
        try
        {
            switch (Path.GetExtension(path).ToLowerInvariant())
            {
                case ".pth":
                case ".pt":
                    var table = PyTorchUnpickler.UnpickleStateDict(path);
                    return table.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (Tensor)e.Value!, StringComparer.Ordinal);
                case ".safetensors":
                    return Safetensors.LoadStateDict(path);
                default:
                    using (var stream = File.OpenRead(path)) return TorchSharpStateDict.Read(stream, what);
            }
        }
        catch (Exception e) when (e is not InvalidDataException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{what} could not be read ({e.Message}); is it truncated or of another kind?", e);
        }
    }
}
