using MLNet.FastAi.Data.Augmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// A split ready for batching: its pixels (in whichever store the cache policy chose), every label as int64 [N]
/// (-1 where unknown), and every image's original size (which presizing needs to crop a square from the right part of
/// a squished photo).
/// </summary>
internal sealed class PixelSet : IDisposable
{
    private readonly Dictionary<(DeviceType, int), Tensor> _deviceCopies = new();

    public PixelSet(PixelStore store, long[] labels, (int Width, int Height)[] sourceSizes)
    {
        if (labels.Length != store.Count || sourceSizes.Length != store.Count)
            throw new ArgumentException("Every image needs a label and a source size.");
        Store = store;
        Labels = tensor(labels, new long[] { labels.Length }, dtype: ScalarType.Int64).DetachFromDisposeScope();
        SourceSizes = sourceSizes;
    }

    public PixelStore Store { get; }

    public Tensor Labels { get; }

    public (int Width, int Height)[] SourceSizes { get; }

    public long Count => Store.Count;

    public int Height => Store.Height;

    public int Width => Store.Width;

    /// <summary>Image <paramref name="index"/> as uint8 [3, H, W] on the CPU, read from whichever store holds it.</summary>
    public Tensor Image(long index)
    {
        var image = empty(new long[] { 3, Height, Width }, ScalarType.Byte);
        var memory = PixelMemory.Of(image);
        Store.Read(new[] { index }, _ => memory.Item(0, Store.ItemBytes));
        return image;
    }

    /// <summary>The budget device copies of in-memory images share (one per data loaders); null allows none.</summary>
    public DeviceCopyBudget? DeviceBudget { get; set; }

    /// <summary>
    /// The in-memory images on <paramref name="device"/>, copied there once (and kept while this set lives) when the
    /// copy fits what is left of <see cref="DeviceBudget"/>; null when the store is not in memory or the copy would not fit.
    /// </summary>
    public Tensor? ResidentOn(Device device)
    {
        var resident = Store.Resident;
        if (resident is null) return null;
        if (BatchAugmenter.SameDevice(resident.device, device)) return resident;
        lock (_deviceCopies)
        {
            var key = (device.type, device.index);
            if (_deviceCopies.TryGetValue(key, out var copy)) return copy;
            if (DeviceBudget?.TryReserve(resident.NumberOfElements) != true) return null;
            _deviceCopies[key] = copy = resident.to(device).DetachFromDisposeScope();
            return copy;
        }
    }

    public void Dispose()
    {
        foreach (var copy in _deviceCopies.Values)
        {
            DeviceBudget?.Release(copy.NumberOfElements);
            copy.Dispose();
        }
        _deviceCopies.Clear();
        Labels.Dispose();
        Store.Dispose();
    }
}

/// <summary>
/// Bytes of in-memory images the data loaders may copy onto GPUs, shared by their splits: copies make every epoch
/// a device-side gather, but a card has far less memory than the host.
/// </summary>
internal sealed class DeviceCopyBudget(long bytes)
{
    /// <summary>The default: 4 GiB for all splits together, room for about 27,000 images at 224 px beside training on a 16 GB card.</summary>
    public const long Default = 4L << 30;

    private long _left = bytes;

    public bool TryReserve(long bytes)
    {
        lock (this)
        {
            if (bytes > _left) return false;
            _left -= bytes;
            return true;
        }
    }

    public void Release(long bytes)
    {
        lock (this) _left += bytes;
    }
}
