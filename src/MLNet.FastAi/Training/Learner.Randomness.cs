using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>
    /// This learner's own random generator (CPU): it draws the initial weights and every dropout mask, so a seed
    /// reproduces a run bit for bit whatever else the process draws, and two learners on two threads do not disturb
    /// each other. Shuffles and augmentation have their own per-epoch generators (see the data loaders).
    /// </summary>
    private readonly Generator _generator;

    /// <summary>The learner's generator, for callbacks that draw (MixUp, CutMix): their draws repeat with the seed.</summary>
    internal Generator Generator => _generator;

    /// <summary>
    /// A generator seeded with <paramref name="seed"/>; without one, seeded from libtorch's process-wide generator,
    /// so <c>torch.manual_seed</c> still makes unseeded learners repeatable.
    /// </summary>
    private static Generator NewGenerator(int? seed)
    {
        if (seed is { } given) return new Generator((ulong)given);
        using var draw = randint(0, long.MaxValue, [1], dtype: ScalarType.Int64);
        return new Generator((ulong)draw.item<long>());
    }

    /// <summary>Checkpoint key of the learner generator's state; "cpu" in checkpoints written before it existed.</summary>
    private const string GeneratorStateKey = "learner";

    private const string LegacyGeneratorStateKey = "cpu";

    /// <summary>The generator's state, for a checkpoint (the caller disposes it).</summary>
    internal (string Key, Tensor State) GeneratorState() => (GeneratorStateKey, _generator.get_state());

    /// <summary>
    /// The saved state in <paramref name="rng"/>: this learner's generator, or the process-wide generator that older
    /// checkpoints saved (the same kind of CPU generator, so its state continues the same stream here); null if
    /// neither is there.
    /// </summary>
    private static Tensor? SavedGeneratorState(Dictionary<string, Tensor> rng) =>
        rng.GetValueOrDefault(GeneratorStateKey) ?? rng.GetValueOrDefault(LegacyGeneratorStateKey);

    /// <summary>Checks a saved state is a CPU generator state of this libtorch's size.</summary>
    internal void CheckGeneratorState(Dictionary<string, Tensor> rng, string what)
    {
        using var current = _generator.get_state();
        if (SavedGeneratorState(rng) is not { } state || state.dtype != current.dtype || state.numel() != current.numel())
            throw new InvalidDataException($"{what} is damaged: 'rng.bin' does not hold a CPU generator state of {current.numel()} bytes.");
    }

    internal void RestoreGeneratorState(Dictionary<string, Tensor> rng) => _generator.set_state(SavedGeneratorState(rng)!);
}
