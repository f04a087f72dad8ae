using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Decoding;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Batching;

/// <summary>
/// Turns a decoded split into mini-batches on a device: optional shuffling each epoch (seeded), dropping the last
/// partial batch for training as fastai does, augmentation for training batches, then normalization. The uint8 cache
/// moves to the device once, so a batch costs one gather, one conversion and the augmentation kernels.
/// </summary>
internal sealed class BatchLoader : IDisposable
{
    private readonly ImageTensorSet _data;
    private readonly bool _ownsData;
    private readonly Tensor _mean;
    private readonly Tensor _std;
    private readonly BatchAugmenter? _augmenter;
    private readonly int _seed;

    public BatchLoader(ImageTensorSet data, int batchSize, bool shuffle, bool dropLast, Device device,
        NormalizationStats normalization, AugmentationOptions? augmentation, int seed)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        normalization.Validate();
        _data = data.To(device);
        _ownsData = !ReferenceEquals(_data, data);
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast && data.Count > batchSize;
        Device = device;
        _mean = tensor(Enumerable.Range(0, 3).Select(normalization.MeanOf).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        _std = tensor(Enumerable.Range(0, 3).Select(normalization.StdOf).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        _augmenter = augmentation is null ? null : new BatchAugmenter(augmentation);
        _seed = seed;
    }

    public int BatchSize { get; }

    public bool Shuffle { get; }

    public bool DropLast { get; }

    public Device Device { get; }

    public long ItemCount => _data.Count;

    public int BatchCount => (int)(DropLast ? _data.Count / BatchSize : (_data.Count + BatchSize - 1) / BatchSize);

    /// <summary>
    /// The batches of one epoch. Each batch's tensors belong to the dispose scope that is current when it is
    /// produced; callers open a scope per batch.
    /// </summary>
    public IEnumerable<Batch> Batches(int epoch)
    {
        Tensor? order = null;
        using var generator = new Generator(EpochSeed(_seed, epoch));
        try
        {
            // The epoch's order reaches the device once: a host-to-device copy per batch would make the host wait for
            // the GPU every batch and lose the overlap of batch preparation with the previous step.
            using (var cpuOrder = Shuffle ? randperm(_data.Count, generator: generator) : arange(_data.Count, dtype: ScalarType.Int64))
                order = cpuOrder.to(Device).DetachFromDisposeScope();
            for (int b = 0; b < BatchCount; b++)
            {
                long start = (long)b * BatchSize, length = Math.Min(BatchSize, _data.Count - start);
                yield return Assemble(order.narrow(0, start, length), generator);
            }
        }
        finally
        {
            order?.Dispose();
        }
    }

    /// <summary>
    /// The generator seed of one epoch: a fixed function of the data seed and the epoch, so a seed gives the same
    /// shuffles and augmentations in every run. (<see cref="HashCode"/> is randomized per process and cannot serve.)
    /// SplitMix64's finalizer spreads the pair over 64 bits, then the halves are folded because libtorch's CPU
    /// generator keeps only the low 32 bits of its seed.
    /// </summary>
    internal static ulong EpochSeed(int seed, int epoch)
    {
        unchecked
        {
            ulong x = ((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
            return (x ^ (x >> 32)) & 0xFFFFFFFFUL;
        }
    }

    /// <summary>One batch from explicit positions (for show_batch, predictions on chosen items, tests).</summary>
    public Batch Assemble(Tensor indices, Generator? generator = null)
    {
        var onDevice = indices.to(Device);
        var x = _data.Images.index_select(0, onDevice).to(ScalarType.Float32).div_(255f);
        if (_augmenter is not null)
        {
            using var fallback = generator is null ? new Generator((ulong)_seed) : null;
            x = _augmenter.Apply(x, generator ?? fallback!);
        }
        x = x.sub_(_mean).div_(_std);
        return new Batch(x, _data.Labels.index_select(0, onDevice), onDevice);
    }

    /// <summary>Undoes normalization: pixels back in 0..1 for display.</summary>
    public Tensor Denormalize(Tensor images) => (images * _std + _mean).clamp(0, 1);

    public void Dispose()
    {
        if (_ownsData) _data.Dispose();
        _augmenter?.Dispose();
        _mean.Dispose();
        _std.Dispose();
    }
}
