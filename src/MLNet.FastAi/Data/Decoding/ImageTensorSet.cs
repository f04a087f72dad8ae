using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// A split decoded once: every image as uint8 [N, 3, H, W] and every label as int64 [N] (-1 where unknown),
/// kept for the life of the data loaders so that epochs never decode again.
/// </summary>
internal sealed class ImageTensorSet : IDisposable
{
    public ImageTensorSet(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; }

    public Tensor Labels { get; }

    public long Count => Images.shape[0];

    public int Height => (int)Images.shape[2];

    public int Width => (int)Images.shape[3];

    /// <summary>A copy on <paramref name="device"/> (the same object when it already lives there).</summary>
    public ImageTensorSet To(Device device) =>
        Augmentation.BatchAugmenter.SameDevice(Images.device, device) ? this : new ImageTensorSet(Images.to(device).DetachFromDisposeScope(), Labels.to(device).DetachFromDisposeScope());

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
