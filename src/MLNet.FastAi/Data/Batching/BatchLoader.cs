using MLNet.FastAi.Internal;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Caching;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Batching;

/// <summary>
/// Turns a split into mini-batches on a device: optional shuffling each epoch (seeded), dropping the last partial
/// batch for training as fastai does, augmentation and presizing crops for training batches, then normalization.
/// In-memory images move to the device once, so a batch costs one gather, one conversion and the augmentation
/// kernels; images on disk or streamed are read by <see cref="BatchPrefetcher"/> a few batches ahead. Either way the
/// epoch's order and every random draw come from one seeded generator in the same sequence, so a seed gives the same
/// batches whatever the cache mode.
/// </summary>
internal sealed class BatchLoader : IDisposable
{
    private readonly PixelSet _data;
    private readonly Tensor _mean;
    private readonly Tensor _std;
    private readonly BatchAugmenter? _augmenter;
    private readonly BatchGeometry? _geometry;
    private readonly int _seed;
    private readonly int _prefetch;
    private readonly int _workers;

    /// <summary>The prefetcher's batch buffers, allocated on the first epoch that needs them and kept for the others.</summary>
    private Tensor[]? _slots;

    public BatchLoader(PixelSet data, int batchSize, bool shuffle, bool dropLast, Device device, NormalizationStats normalization,
        AugmentationOptions? augmentation, int seed, BatchGeometry? geometry = null, int prefetchBatches = 3, int? workers = null)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        normalization.Validate();
        _data = data;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast && data.Count > batchSize;
        Device = device;
        _mean = tensor(Enumerable.Range(0, 3).Select(normalization.MeanOf).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        _std = tensor(Enumerable.Range(0, 3).Select(normalization.StdOf).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        _geometry = geometry;
        _augmenter = augmentation is null && geometry is null ? null : new BatchAugmenter(augmentation);
        _seed = seed;
        _prefetch = prefetchBatches;
        _workers = workers ?? Environment.ProcessorCount;
        Resident = data.ResidentOn(device);
        // A tensor already on the device may come back as itself from to(); this loader disposes its own handle.
        Labels = (BatchAugmenter.SameDevice(data.Labels.device, device) ? data.Labels.detach() : data.Labels.to(device)).DetachFromDisposeScope();
    }

    public int BatchSize { get; }

    public bool Shuffle { get; }

    public bool DropLast { get; }

    public Device Device { get; }

    public long ItemCount => _data.Count;

    public int BatchCount => (int)(DropLast ? _data.Count / BatchSize : (_data.Count + BatchSize - 1) / BatchSize);

    /// <summary>
    /// The images on the device when the store holds them in memory and the loaders' device budget allows a copy;
    /// else null, and batches come through the prefetcher.
    /// </summary>
    private Tensor? Resident { get; }

    /// <summary>Every label, on the device: per-batch label copies would make the host wait for a GPU.</summary>
    private Tensor Labels { get; }

    /// <summary>
    /// The batches of one epoch. Each batch's tensors belong to the dispose scope that is current when it is
    /// produced; callers open a scope per batch.
    /// </summary>
    public IEnumerable<Batch> Batches(int epoch)
    {
        Tensor? order = null;
        using var generator = new Generator(EpochSeed(_seed, epoch));
        BatchPrefetcher? prefetcher = null;
        try
        {
            using (var cpuOrder = Shuffle ? randperm(_data.Count, generator: generator) : arange(_data.Count, dtype: ScalarType.Int64))
            {
                // The epoch's order reaches the device once: a host-to-device copy per batch would make the host wait
                // for the GPU every batch and lose the overlap of batch preparation with the previous step.
                order = cpuOrder.to(Device).DetachFromDisposeScope();
                var positions = _geometry is not null || Resident is null ? cpuOrder.data<long>().ToArray() : null;
                if (Resident is null)
                {
                    _slots ??= BatchPrefetcher.AllocateSlots(_data.Store, BatchSize, _prefetch, pinned: Device.type == DeviceType.CUDA);
                    prefetcher = new BatchPrefetcher(_data.Store, positions!, BatchSize, BatchCount, _slots, _workers);
                }
                for (int b = 0; b < BatchCount; b++)
                {
                    long start = (long)b * BatchSize, length = Math.Min(BatchSize, _data.Count - start);
                    var indices = order.narrow(0, start, length);
                    var sizes = positions is null ? null : SourceSizes(positions, start, length);
                    yield return prefetcher is null
                        ? Build(Resident!.index_select(0, indices), indices, generator, sizes)
                        : Build(prefetcher.Next(), indices, generator, sizes);
                }
            }
        }
        finally
        {
            prefetcher?.Dispose();
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
        using var fallback = generator is null && _augmenter is not null ? new Generator((ulong)_seed) : null;
        var onDevice = indices.to(Device);
        long[] positions = indices.cpu().data<long>().ToArray();
        var sizes = _geometry is null ? null : SourceSizes(positions, 0, positions.Length);
        if (Resident is not null) return Build(Resident.index_select(0, indices.to(Resident.device)), onDevice, generator ?? fallback, sizes);
        var images = empty(new long[] { positions.Length, 3, _data.Height, _data.Width }, ScalarType.Byte);
        var memory = PixelMemory.Of(images);
        _data.Store.Read(positions, k => memory.Item(k, _data.Store.ItemBytes));
        return Build(images, onDevice, generator ?? fallback, sizes);
    }

    /// <summary>uint8 images (host or device) → float on the device, augmented and cropped, normalized.</summary>
    private Batch Build(Tensor pixels, Tensor indices, Generator? generator, (int, int)[]? sizes)
    {
        var x = pixels.to(Device).to(ScalarType.Float32).div_(KeptScalars.PixelMax);
        if (_augmenter is not null) x = _augmenter.Apply(x, generator!, _geometry, sizes);
        x = x.sub_(_mean).div_(_std);
        return new Batch(x, Labels.index_select(0, indices), indices);
    }

    private (int, int)[] SourceSizes(long[] positions, long start, long length)
    {
        var sizes = new (int, int)[length];
        for (long k = 0; k < length; k++) sizes[k] = _data.SourceSizes[positions[start + k]];
        return sizes;
    }

    /// <summary>Undoes normalization: pixels back in 0..1 for display.</summary>
    public Tensor Denormalize(Tensor images) => (images * _std + _mean).clamp(0, 1);

    public void Dispose()
    {
        foreach (var slot in _slots ?? []) slot.Dispose();
        _augmenter?.Dispose();
        _mean.Dispose();
        _std.Dispose();
        Labels.Dispose();
    }
}
