using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// The one definition of how an image file becomes model input pixels: ML.NET ImageAnalytics' LoadImages →
/// ResizeImages → ExtractPixels (planar R, G, B, 0..255). Training decodes its cache with exactly this chain and the
/// saved ML.NET model replays it, so training and prediction see the same pixels. The one exception is presizing's
/// training-only item store (<see cref="IsTrainingStretch"/>), which no saved model sees.
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

    /// <summary>
    /// Presizing's training-only item store: images stretched smoothly (SkiaSharp's bilinear filter over the image
    /// ML.NET's LoadImages decoded) to the size, whatever their proportions, so that each batch can take a square of the
    /// photo's own proportions from anywhere across its longer side. No saved model replays it, and stock ML.NET has no
    /// smooth stretching resize, so it has no ML.NET chain (<see cref="BuildEstimator"/> refuses it).
    /// </summary>
    internal bool IsTrainingStretch { get; private init; }

    /// <summary>The training-only item store of presizing at <paramref name="side"/> (see <see cref="IsTrainingStretch"/>).</summary>
    internal static ImagePipeline TrainingStretch(int side) => new(side, side, ResizeMethod.Squish) { IsTrainingStretch = true };

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
        if (IsTrainingStretch)
            throw new InvalidOperationException($"{this} is presizing's training-only store, which no ML.NET chain reproduces; decode it with {nameof(SmoothStretch)}.");
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

    // Squish is IsoCrop: the images it accepts (see RefuseStretching) have the target's proportions, where cropping cuts
    // nothing, and IsoCrop resamples smoothly while Fill, ImageAnalytics' only anisotropic resize, is nearest-neighbour.
    private static ImageResizingEstimator.ResizingKind ToMLNet(ResizeMethod method) => method switch
    {
        ResizeMethod.Squish => ImageResizingEstimator.ResizingKind.IsoCrop,
        ResizeMethod.Crop => ImageResizingEstimator.ResizingKind.IsoCrop,
        ResizeMethod.Pad => ImageResizingEstimator.ResizingKind.IsoPad,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown resize method."),
    };

    /// <summary>
    /// How far an image's proportions may be from the target's for <see cref="ResizeMethod.Squish"/>: 1%, so that the
    /// smooth resize it runs crops at most 1% of the image, below what a classifier notices.
    /// </summary>
    internal const double SquishAspectTolerance = 0.01;

    /// <summary>The advice when training images would be stretched, naming the option to change.</summary>

    /// <summary>
    /// Refuses, before anything is decoded, images that <see cref="ResizeMethod.Squish"/> would have to stretch:
    /// ML.NET's only anisotropic resize samples nearest-neighbour (blocky upscales, aliased downscales) in training and
    /// in the saved model alike, and fastai's squish is bilinear. Nothing is checked for other methods.
    /// </summary>
    /// <param name="images">Each image as messages name it (a quoted path, a row) and its size.</param>
    /// <param name="subject">What messages call the images, e.g. "The images".</param>
    /// <exception cref="OptionException">Some image's proportions differ from the target's.</exception>
    /// <param name="modelAdvice">
    /// For images a trained model is asked about: what to do instead, and the refusal is of the images (an
    /// <see cref="ArgumentException"/>). Null while choosing how to train: the refusal is of <see cref="OptionKey.Resize"/>.
    /// </param>
    internal void RefuseStretching(IEnumerable<(string Name, int Width, int Height)> images, string subject, string? modelAdvice = null)
    {
        if (Resize != ResizeMethod.Squish || IsTrainingStretch) return;
        double target = (double)Width / Height;
        var stretched = images.Where(i => i.Width > 0 && i.Height > 0 && Math.Abs(Math.Log((double)i.Width / i.Height / target)) > Math.Log(1 + SquishAspectTolerance)).ToList();
        if (stretched.Count == 0) return;
        var (name, width, height) = stretched[0];
        var why = OptionText.Concat($"{subject}: {stretched.Count:N0} image(s) have other proportions than the {Width}×{Height} target, e.g. {name} ({width}×{height}). ",
            $"Squishing them would resample nearest-neighbour (ML.NET's only stretching resize, ImageAnalytics' Fill, which the saved model ",
            $"would replay) and train a less accurate model than fastai's bilinear squish. ");
        if (modelAdvice is not null) throw new ArgumentException(OptionText.Say(why) + modelAdvice, "images");
        throw new OptionException(OptionKey.Resize, Resize,
            OptionText.Concat(why, $"Set {OptionKey.Resize} to Crop (fastai's default) or Pad, or make the images square first."), fits: ResizeMethod.Crop);
    }

    /// <inheritdoc/>
    public override string ToString() => IsTrainingStretch ? $"{Width}×{Height} (stretched smoothly, for training)" : $"{Width}×{Height} ({Resize})";

    /// <summary>
    /// The square side when no image size is set: every usable image must have the same size, whose longer side sets
    /// it. Mixed sizes are refused naming the image-size setting rather than decoded at full resolution.
    /// </summary>
    /// <param name="images">Each usable image as messages name it (a quoted path, a row) and its size; at least one.</param>
    /// <param name="subject">What messages call the images, e.g. "The images".</param>
    /// <param name="mixedSizeAdvice">What to set it to when sizes are mixed.</param>
    /// <exception cref="ArgumentException">Mixed sizes, or images larger than <see cref="MaxSide"/>.</exception>
    internal static int UniformSide(IReadOnlyList<(string Name, int Width, int Height)> images, string subject, FormattableString mixedSizeAdvice)
    {
        var first = images[0];
        foreach (var other in images)
            if (other.Width != first.Width || other.Height != first.Height)
                throw new OptionException(OptionKey.ImageSize, null,
                    OptionText.Concat($"{subject} have different sizes ({first.Name} is {first.Width}×{first.Height}, {other.Name} {other.Width}×{other.Height}), ",
                    $"so they need a common size: set {OptionKey.ImageSize} ({mixedSizeAdvice})."));
        int side = Math.Max(first.Width, first.Height);
        if (side > MaxSide)
            throw new OptionException(OptionKey.ImageSize, null, OptionText.Concat($"{subject} are {first.Width}×{first.Height}; images are resized to at most {MaxSide} pixels a side. ",
                                                                 $"Set {OptionKey.ImageSize} (e.g. 224)."));
        return side;
    }
}
