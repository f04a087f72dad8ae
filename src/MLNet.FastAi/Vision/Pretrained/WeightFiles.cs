using System.Collections;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Pretrained;

/// <summary>
/// Loads ResNet body weights from files: PyTorch state dicts (<c>torch.save(model.state_dict())</c>, .pth/.pt, read by
/// TorchSharp.PyBridge's unpickler, which runs no code: globals it does not know become inert placeholders, and
/// anything in the file that is not a tensor is refused here, by name), safetensors, and
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
                    return FromPickle(PyTorchUnpickler.UnpickleStateDict(path), what);
                case ".safetensors":
                    return Safetensors.LoadStateDict(path);
                default:
                    using (var stream = File.OpenRead(path)) return TorchSharpStateDict.Read(stream, what);
            }
        }
        catch (InvalidCastException e)
        {
            throw new InvalidDataException($"{what} is not a state dict, a dictionary of named tensors ({e.Message}); save one with torch.save(model.state_dict(), path).", e);
        }
        catch (Exception e) when (e is not InvalidDataException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{what} could not be read ({e.Message}); is it truncated or of another kind?", e);
        }
    }

    /// <summary>
    /// The unpickled dictionary as named tensors. The unpickler runs no code: a global it does not know (os.system,
    /// builtins.eval, any class) becomes an inert dictionary-like placeholder, or fails when called with arguments.
    /// Such placeholders, and anything else that is not a tensor, are refused here by name.
    /// </summary>
    private static Dictionary<string, Tensor> FromPickle(Hashtable table, string what)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (DictionaryEntry entry in table)
            {
                if (entry.Key is not string name)
                    throw new InvalidDataException($"{what} has a key of type {entry.Key.GetType().Name}, not a tensor name; only state dicts are read.");
                if (entry.Value is not Tensor tensor)
                    throw new InvalidDataException($"{what} holds '{name}' = {Describe(entry.Value)}, not a tensor; only state dicts of tensors are read (torch.save(model.state_dict(), path)).");
                result[name] = tensor;
            }
            return result;
        }
        catch
        {
            foreach (var value in table.Values) (value as Tensor)?.Dispose();
            throw;
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        IDictionary d when d.Contains("__class__") => $"an object of the Python class '{d["__class__"]}'",
        _ => $"a {value.GetType().Name}",
    };
}
