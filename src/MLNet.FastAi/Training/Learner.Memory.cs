using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using TorchSharp;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>
    /// Refuses, before a training step allocates anything, a batch whose step cannot fit in the memory this process may
    /// still use on the CPU: the kernel would otherwise end the process mid-epoch without a word. A step that fits only
    /// without the memory retention keeps beyond it makes the allocator hand freed memory back at once (logged). (On a
    /// GPU libtorch raises its own out-of-memory error, which names the allocation.)
    /// </summary>
    /// <exception cref="OptionException">The estimate exceeds what is available; keyed <see cref="OptionKey.BatchSize"/>, with the largest batch that fits.</exception>
    internal void RefuseTrainingThatCannotFit()
    {
        if (Device.type != DeviceType.CPU) return;
        if (RefuseActivations(Options, Data.Pipeline.Width, Data.BatchSize) is { } step && MemoryRetention.LetGo(step.Needed, step.Available) is { } line)
            Data.Log(line);
    }

    /// <summary>
    /// The same check for doors that know the learner's options before the data is built (the command line, the
    /// ML.NET estimator): handed to the loaders, it runs before any image is decoded. Null when training will not run
    /// on the CPU.
    /// </summary>
    internal static Action<int, int>? ActivationCheckBeforeDecoding(VisionLearnerOptions options, Microsoft.ML.MLContext? context = null) =>
        TorchRuntime.ResolveDevice(options.Device, context).type == DeviceType.CPU ? (size, batch) => RefuseActivations(options, size, batch) : null;

    /// <summary>The step's estimate and the memory available, once the step is known to fit; null when the memory available is unknown.</summary>
    private static (long Needed, long Available)? RefuseActivations(VisionLearnerOptions options, int size, int batch)
    {
        if (AvailableMemory.Read() is not { } available) return null;
        int bytesPerValue = options.MixedPrecision ? 2 : sizeof(float);
        long needed = ActivationMemory.TrainingBytes(options.Architecture.Shape, size, batch, bytesPerValue);
        if (needed <= available.Bytes) return (needed, available.Bytes);
        // The largest smaller batch that fits.
        int fits = Enumerable.Range(1, Math.Max(0, batch - 1))
            .LastOrDefault(b => ActivationMemory.TrainingBytes(options.Architecture.Shape, size, b, bytesPerValue) <= available.Bytes);
        throw new OptionException(OptionKey.BatchSize, batch,
            OptionText.Concat($"Training {options.Architecture.Name} on batches of {batch} images of {size}×{size} pixels needs about {Bytes.Format(needed)} ",
            $"at its peak (the activations kept for the backward pass, gradients and optimizer state), but this process may use only {Bytes.Format(available.Bytes)} more ({available.Source}). ",
            $"Lower {OptionKey.BatchSize} ({(fits > 0 ? $"at most {fits} fit" : "not even 1 fits")}) or {OptionKey.ImageSize}."),
            fits: fits > 0 ? fits : null);
    }

    /// <summary>Whether the optimizer's state (gradients, moments) is allocated; false after <see cref="ReleaseTrainingState"/> until the next fit.</summary>
    internal bool HoldsOptimizerState => _optimizer is not null;

    /// <summary>
    /// Frees what only training needs, keeping what predicting needs: the decoded images of <see cref="Data"/> (which
    /// keeps its classes, splits and sizes) and the optimizer's state. Training again is an explicit choice that costs
    /// the decoding again: a fit decodes the images anew from their source (files, or the rows of the ML.NET view they
    /// came from) and starts the optimizer afresh (as a new fit_one_cycle stage of fine_tune does). The ML.NET estimator
    /// calls this when its Fit ends.
    /// </summary>
    public void ReleaseTrainingState()
    {
        using var use = Use(nameof(ReleaseTrainingState));
        RefuseNestedFit();
        _optimizer?.Dispose();
        _optimizer = null;
        Data.Dispose();
        MemoryRetention.HandBackAfterTraining();
    }
}
