using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// The one definition of how an image file becomes model input pixels: ML.NET ImageAnalytics' LoadImages →
/// ResizeImages → ExtractPixels (planar R, G, B, 0..255). Training decodes its cache with exactly this chain and the
/// saved ML.NET model replays it, so training and prediction see the same pixels.
/// </summary>
/// <remarks>
/// <para>Transparency: ML.NET loads images premultiplied, so a partly transparent pixel comes out with its colour
/// scaled by its alpha, as if composited over black, and a fully transparent one is black. fastai (PIL's
/// <c>convert('RGB')</c>) drops alpha instead; flatten such images beforehand if the hidden colour matters.</para>
/// <para>Truncated files: <see cref="ImageDataLoaders"/> refuses them (or skips them, per
/// <see cref="ImageDataOptions.OnBadImage"/>), but ML.NET's LoadImages in a saved model decodes what is there and
/// fills the missing rows with black; check files that may be incomplete before scoring them.</para>
/// </remarks>
/// <param name="Width">Target width in pixels.</param>
/// <param name="Height">Target height in pixels.</param>
/// <param name="Resize">How the aspect ratio is handled.</param>
public sealed record ImagePipeline(int Width, int Height, ResizeMethod Resize = ImageDataOptions.DefaultResize)
{
    internal const string LoadedColumn = "__FastAiImage";
    internal const string ResizedColumn = "__FastAiResized";

    /// <summary>Number of values per image: 3 × height × width.</summary>
    public int PixelCount => 3 * Width * Height;

    /// <summary>The largest side images are resized to: far beyond what a CNN classifier is trained at, small enough that a batch fits in memory.</summary>
    public const int MaxSide = 4096;

    /// <summary>Checks the size is usable.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A side is not positive or unreasonably large.</exception>
    public void Validate()
    {
        if (Width < 1 || Height < 1 || Width > MaxSide || Height > MaxSide)
            throw new ArgumentOutOfRangeException(nameof(Width), $"Image size must be between 1 and {MaxSide} pixels per side; got {Width}×{Height}.");
    }

    /// <summary>
    /// The ML.NET estimator chain from a column of image paths (text) or of loaded images (<see cref="MLImage"/>) to a
    /// planar RGB vector column <paramref name="pixelsColumn"/> of bytes, or of floats in 0..255.
    /// </summary>
    public IEstimator<ITransformer> BuildEstimator(MLContext context, string imageColumn, bool imageColumnIsPath,
        string pixelsColumn, bool asFloat, string imageFolder = "")
    {
        Validate();
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        string source = imageColumn;
        if (imageColumnIsPath)
        {
            chain = chain.Append(context.Transforms.LoadImages(LoadedColumn, imageFolder, imageColumn));
            source = LoadedColumn;
        }
        return chain
            .Append(context.Transforms.ResizeImages(ResizedColumn, Width, Height, source, ToMLNet(Resize), ImageResizingEstimator.Anchor.Center))
            .Append(context.Transforms.ExtractPixels(pixelsColumn, ResizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, offsetImage: 0, scaleImage: 1, outputAsFloatArray: asFloat));
    }

    private static ImageResizingEstimator.ResizingKind ToMLNet(ResizeMethod method) => method switch
    {
        ResizeMethod.Squish => ImageResizingEstimator.ResizingKind.Fill,
        ResizeMethod.Crop => ImageResizingEstimator.ResizingKind.IsoCrop,
        ResizeMethod.Pad => ImageResizingEstimator.ResizingKind.IsoPad,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown resize method."),
    };

    /// <inheritdoc/>
    public override string ToString() => $"{Width}×{Height} ({Resize})";

    /// <summary>
    /// The square side when no image size is set: every usable image must have the same size, whose longer side sets
    /// it. Mixed sizes are refused naming <paramref name="sizeOption"/> rather than decoded at full resolution.
    /// </summary>
    /// <param name="images">Each usable image as messages name it (a quoted path, a row) and its size; at least one.</param>
    /// <param name="subject">What messages call the images, e.g. "The images".</param>
    /// <param name="sizeOption">The option to set, e.g. "ImageDataOptions.ImageSize".</param>
    /// <param name="mixedSizeAdvice">What to set it to when sizes are mixed.</param>
    /// <exception cref="ArgumentException">Mixed sizes, or images larger than <see cref="MaxSide"/>.</exception>
    internal static int UniformSide(IReadOnlyList<(string Name, int Width, int Height)> images, string subject, string sizeOption, string mixedSizeAdvice)
    {
        var first = images[0];
        foreach (var other in images)
            if (other.Width != first.Width || other.Height != first.Height)
                throw new ArgumentException(
                    $"{subject} have different sizes ({first.Name} is {first.Width}×{first.Height}, {other.Name} {other.Width}×{other.Height}), " +
                    $"so they need a common size: set {sizeOption} ({mixedSizeAdvice}).", "ImageSize");
        int side = Math.Max(first.Width, first.Height);
        if (side > MaxSide)
            throw new ArgumentException($"{subject} are {first.Width}×{first.Height}; images are resized to at most {MaxSide} pixels a side. " +
                                        $"Set {sizeOption} (e.g. 224).", "ImageSize");
        return side;
    }
}
