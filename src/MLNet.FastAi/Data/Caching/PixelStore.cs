using MLNet.FastAi.Data.Decoding;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// Where the decoded images of one split live: in memory, in a disk cache, or nowhere (decoded when read). Every
/// image is uint8, planar RGB, <see cref="Height"/> × <see cref="Width"/>; reads are thread-safe, so the batch
/// prefetcher's workers share one store.
/// </summary>
internal abstract class PixelStore : IDisposable
{
    protected PixelStore(long count, int height, int width)
    {
        Count = count;
        Height = height;
        Width = width;
    }

    public long Count { get; }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Bytes of one image: 3 × height × width.</summary>
    public long ItemBytes => 3L * Height * Width;

    /// <summary>"memory", "disk" or "stream", for messages.</summary>
    public abstract ImageCacheMode Mode { get; }

    /// <summary>Every image as one uint8 tensor [N, 3, H, W] on the CPU when the store holds them in memory; else null.</summary>
    public virtual Tensor? Resident => null;

    /// <summary>Copies the images at <paramref name="indices"/> to their targets (the target's index is the position in <paramref name="indices"/>).</summary>
    public abstract void Read(IReadOnlyList<long> indices, PixelTarget target);

    public virtual void Dispose() { }
}

/// <summary>Memory reached through a pointer: tensor storage the decoder or a reader writes into.</summary>
internal readonly unsafe struct PixelMemory
{
    private readonly byte* _start;
    private readonly long _length;

    private PixelMemory(byte* start, long length)
    {
        _start = start;
        _length = length;
    }

    /// <summary>The storage of a contiguous CPU uint8 tensor (which the caller keeps alive).</summary>
    public static PixelMemory Of(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU || tensor.dtype != ScalarType.Byte || !tensor.is_contiguous())
            throw new ArgumentException("Pixel memory must be a contiguous uint8 tensor on the CPU.", nameof(tensor));
        if (tensor.NumberOfElements == 0) return new PixelMemory(null, 0);
        // Tensor.bytes spans at most 2 GB, so the address comes from the first element's view.
        using var flat = tensor.view(-1);
        using var first = flat.narrow(0, 0, 1);
        fixed (byte* start = first.bytes) return new PixelMemory(start, tensor.NumberOfElements);
    }

    /// <summary>Item <paramref name="index"/> of <paramref name="itemBytes"/> bytes each.</summary>
    public Span<byte> Item(long index, long itemBytes)
    {
        if (index < 0 || (index + 1) * itemBytes > _length) throw new ArgumentOutOfRangeException(nameof(index));
        return new Span<byte>(_start + index * itemBytes, checked((int)itemBytes));
    }
}
