using MLNet.FastAi.Data.Caching;
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
        if (Device.type != DeviceType.CPU || AvailableMemory.Read() is not { } available) return;
        int size = Data.Pipeline.Width;
        long needed = ActivationMemory.TrainingBytes(Options.Architecture, size, Data.BatchSize, Options.MixedPrecision ? 2 : sizeof(float));
        if (needed <= available.Bytes) return;
        throw new InsufficientMemoryException(
            $"Training {Options.Architecture.Name} on batches of {Data.BatchSize} images of {size}×{size} pixels needs at least {Bytes.Format(needed)} " +
            $"for the activations kept for the backward pass, but this process may use only {Bytes.Format(available.Bytes)} more ({available.Source}). " +
            "Lower the batch size (ImageDataOptions.BatchSize) or the image size (ImageDataOptions.ImageSize).");
    }
}
