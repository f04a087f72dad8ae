using Microsoft.ML.Data;
using SkiaSharp;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// Stretches a decoded image to a size, ignoring its proportions, with SkiaSharp's medium filter (bilinear, as fastai's
/// PIL resize, from mipmaps when shrinking, so neither blocks nor aliasing): presizing's training-only item store
/// (<see cref="ImagePipeline.IsTrainingStretch"/>). ImageAnalytics' only stretching resize samples nearest-neighbour.
/// </summary>
internal static class SmoothStretch
{
    /// <summary>Bilinear between the two nearest levels of a mipmap: PIL's bilinear on enlargements, no aliasing on reductions.</summary>
    private static readonly SKSamplingOptions Bilinear = new(SKFilterMode.Linear, SKMipmapMode.Nearest);

    /// <summary>Writes <paramref name="image"/> stretched to <paramref name="pipeline"/>'s size into <paramref name="destination"/>, planar R, G, B.</summary>
    /// <exception cref="InvalidDataException">The image has no pixels or a pixel format other than 32-bit BGRA or RGBA.</exception>
    public static unsafe void ToPlanarRgb(MLImage image, ImagePipeline pipeline, Span<byte> destination)
    {
        if (image.Width < 1 || image.Height < 1) throw new InvalidDataException($"the image is {image.Width}×{image.Height} pixels");
        var colorType = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => SKColorType.Bgra8888,
            MLPixelFormat.Rgba32 => SKColorType.Rgba8888,
            _ => throw new InvalidDataException($"the decoded image has pixel format {image.PixelFormat}"),
        };
        // ML.NET keeps what it decoded premultiplied (see ImagePipeline's remarks); declaring it so resamples it as is.
        var sourceInfo = new SKImageInfo(image.Width, image.Height, colorType, SKAlphaType.Premul);
        var targetInfo = new SKImageInfo(pipeline.Width, pipeline.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var target = new SKBitmap(targetInfo);
        fixed (byte* pixels = image.Pixels)
        {
            using var source = new SKPixmap(sourceInfo, (IntPtr)pixels, sourceInfo.RowBytes);
            using var resized = target.PeekPixels();
            if (!source.ScalePixels(resized, Bilinear))
                throw new InvalidDataException($"SkiaSharp could not resize the {image.Width}×{image.Height} image to {pipeline}");
        }
        ReadOnlySpan<byte> rgba = target.GetPixelSpan();
        int width = pipeline.Width, plane = pipeline.Width * pipeline.Height, rowBytes = target.RowBytes;
        for (int y = 0; y < pipeline.Height; y++)
        {
            var row = rgba.Slice(y * rowBytes, 4 * width);
            int first = y * width;
            for (int x = 0; x < width; x++)
            {
                destination[first + x] = row[4 * x];
                destination[plane + first + x] = row[4 * x + 1];
                destination[2 * plane + first + x] = row[4 * x + 2];
            }
        }
    }
}
