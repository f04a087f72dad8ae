using MLNet.FastAi.Data.Decoding;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Caching;

/// <summary>Every image decoded once into one uint8 tensor in memory: the fastest epochs, memory growing with the dataset.</summary>
internal sealed class MemoryPixelStore : PixelStore
{
    private readonly Tensor _images;
    private readonly PixelMemory _memory;

    /// <summary>Takes ownership of <paramref name="images"/>, uint8 [N, 3, H, W] on the CPU.</summary>
    public MemoryPixelStore(Tensor images) : base(images.shape[0], (int)images.shape[2], (int)images.shape[3])
    {
        // The store outlives whatever dispose scope the loaders were built in.
        _images = images.contiguous().DetachFromDisposeScope();
        if (!ReferenceEquals(_images, images)) images.Dispose();
        _memory = PixelMemory.Of(_images);
    }

    public override ImageCacheMode Mode => ImageCacheMode.Memory;

    public override Tensor Resident => _images;

    public override void Read(IReadOnlyList<long> indices, PixelTarget target)
    {
        for (int k = 0; k < indices.Count; k++) _memory.Item(indices[k], ItemBytes).CopyTo(target(k));
    }

    public override void Dispose() => _images.Dispose();
}
