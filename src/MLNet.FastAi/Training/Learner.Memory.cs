using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using TorchSharp;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>
    /// Refuses, before a training step allocates anything, a batch whose activations cannot fit in the memory this
    /// process may still use on the CPU: the kernel would otherwise end the process mid-epoch without a word. (On a GPU
    /// libtorch raises its own out-of-memory error, which names the allocation.)
    /// </summary>
    /// <exception cref="InsufficientMemoryException">The estimate exceeds what is available; the message names the settings to lower.</exception>
    private void RefuseTrainingThatCannotFit()
    {
        if (Device.type != DeviceType.CPU) return;
        if (ActivationRefusal(Options, Data.Pipeline.Width, Data.BatchSize) is { } refusal) throw new InsufficientMemoryException(refusal);
    }

    /// <summary>
    /// The same check for doors that know the learner's options before the data is built (the command line, the
    /// ML.NET estimator): handed to the loaders, it runs before any image is decoded. Null when training will not run
    /// on the CPU.
    /// </summary>
    internal static Func<int, int, string?>? ActivationCheckBeforeDecoding(VisionLearnerOptions options, Microsoft.ML.MLContext? context = null) =>
        TorchRuntime.ResolveDevice(options.Device, context).type == DeviceType.CPU ? (size, batch) => ActivationRefusal(options, size, batch) : null;

    private static string? ActivationRefusal(VisionLearnerOptions options, int size, int batch)
    {
        if (AvailableMemory.Read() is not { } available) return null;
        long needed = ActivationMemory.TrainingBytes(options.Architecture, size, batch, options.MixedPrecision ? 2 : sizeof(float));
        if (needed <= available.Bytes) return null;
        return $"Training {options.Architecture.Name} on batches of {batch} images of {size}×{size} pixels needs at least {Bytes.Format(needed)} " +
               $"for the activations kept for the backward pass, but this process may use only {Bytes.Format(available.Bytes)} more ({available.Source}). " +
               "Lower the batch size (ImageDataOptions.BatchSize) or the image size (ImageDataOptions.ImageSize).";
    }
}
