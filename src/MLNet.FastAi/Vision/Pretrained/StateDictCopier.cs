using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Pretrained;

/// <summary>Copies named tensors into a module's state dict, checking names and shapes first.</summary>
internal static class StateDictCopier
{
    /// <summary>
    /// Loads <paramref name="source"/> into <paramref name="module"/>. Every tensor of the module must be present with
    /// the same shape unless <paramref name="allowMissing"/> says otherwise; extra source tensors are an error unless
    /// listed in <paramref name="ignoredSourceKeys"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Names the first missing, unexpected or mismatched tensor.</exception>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> source, string origin,
        Func<string, bool>? allowMissing = null, Func<string, bool>? ignoredSourceKeys = null)
    {
        var target = Check(module, source, origin, allowMissing, ignoredSourceKeys);
        using var scope = NewDisposeScope();  // the dtype conversions make new tensor handles
        using var _ = no_grad();
        foreach (var (name, tensor) in target)
            if (source.TryGetValue(name, out var value))
                tensor.copy_(value.to(tensor.dtype));
    }

    /// <summary>The checks of <see cref="Load"/> without copying anything; returns the module's state dict.</summary>
    /// <exception cref="InvalidDataException">Names the first missing, unexpected or mismatched tensor.</exception>
    public static Dictionary<string, Tensor> Check(nn.Module module, IReadOnlyDictionary<string, Tensor> source, string origin,
        Func<string, bool>? allowMissing = null, Func<string, bool>? ignoredSourceKeys = null)
    {
        var target = module.state_dict();
        foreach (var (name, tensor) in target)
        {
            if (!source.TryGetValue(name, out var value))
            {
                if (allowMissing?.Invoke(name) == true) continue;
                throw new InvalidDataException($"{origin} has no tensor '{name}' (shape [{string.Join(", ", tensor.shape)}]) that the model needs; is it a checkpoint of another architecture?");
            }
            if (!value.shape.SequenceEqual(tensor.shape))
                throw new InvalidDataException($"{origin}: tensor '{name}' has shape [{string.Join(", ", value.shape)}] but the model expects [{string.Join(", ", tensor.shape)}].");
        }
        var unexpected = source.Keys.FirstOrDefault(k => !target.ContainsKey(k) && ignoredSourceKeys?.Invoke(k) != true);
        if (unexpected is not null)
            throw new InvalidDataException($"{origin} holds tensor '{unexpected}' that the model does not have; is it a checkpoint of another architecture?");
        return target;
    }
}
