using System.Drawing;
using System.Globalization;
using SkiaSharp;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// One picture of an <see cref="ImageGrid"/> with the title shown above it: a label for <c>show_batch</c>,
/// "prediction/actual/loss/probability" for top losses. Immutable; the pixels are copied in.
/// </summary>
internal sealed class ImageTile
{
    private readonly byte[] _rgba;

    private ImageTile(byte[] rgba, int width, int height, string? title, Color titleColor)
    {
        _rgba = rgba;
        Width = width;
        Height = height;
        Title = title;
        TitleColor = titleColor;
    }

    /// <summary>Width of the source image in pixels.</summary>
    public int Width { get; }

    /// <summary>Height of the source image in pixels.</summary>
    public int Height { get; }

    /// <summary>The text above the tile; lines split on '\n'. <see langword="null"/> for none.</summary>
    public string? Title { get; }

    /// <summary>The colour of the title text.</summary>
    public Color TitleColor { get; }

    /// <summary>A tile from interleaved RGB bytes (height × width × 3, as decoded images and ML.NET's HWC pixels come).</summary>
    /// <param name="pixels">R, G, B bytes of each pixel, row by row.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromRgbHwc(ReadOnlySpan<byte> pixels, int width, int height, string? title = null)
    {
        CheckLength(pixels.Length, width, height, 3, nameof(pixels));
        var rgba = new byte[width * height * 4];
        for (int p = 0, s = 0, d = 0; p < width * height; p++, s += 3, d += 4)
        {
            rgba[d] = pixels[s];
            rgba[d + 1] = pixels[s + 1];
            rgba[d + 2] = pixels[s + 2];
            rgba[d + 3] = 255;
        }
        return new ImageTile(rgba, width, height, title, Color.Black);
    }

    /// <summary>A tile from planar RGB bytes (3 × height × width, the tensor layout).</summary>
    /// <param name="pixels">All red bytes, then all green, then all blue, each plane row by row.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromRgbChw(ReadOnlySpan<byte> pixels, int width, int height, string? title = null)
    {
        CheckLength(pixels.Length, width, height, 3, nameof(pixels));
        var plane = width * height;
        var rgba = new byte[plane * 4];
        for (var p = 0; p < plane; p++)
        {
            rgba[4 * p] = pixels[p];
            rgba[4 * p + 1] = pixels[plane + p];
            rgba[4 * p + 2] = pixels[2 * plane + p];
            rgba[4 * p + 3] = 255;
        }
        return new ImageTile(rgba, width, height, title, Color.Black);
    }

    /// <summary>A tile from grey-level bytes (height × width), such as an MNIST digit.</summary>
    /// <param name="pixels">One byte per pixel, row by row; 0 is black.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromGray(ReadOnlySpan<byte> pixels, int width, int height, string? title = null)
    {
        CheckLength(pixels.Length, width, height, 1, nameof(pixels));
        var rgba = new byte[width * height * 4];
        for (var p = 0; p < pixels.Length; p++)
        {
            rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = pixels[p];
            rgba[4 * p + 3] = 255;
        }
        return new ImageTile(rgba, width, height, title, Color.Black);
    }

    /// <summary>
    /// A tile from a normalized float tensor (channels × height × width, 1 or 3 channels), undoing the
    /// normalization: <c>value × std + mean</c>, then clamped to [0, 1].
    /// </summary>
    /// <param name="values">The tensor's values in CHW order.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="mean">Per-channel mean used to normalize (for example ImageNet's 0.485, 0.456, 0.406); none when null.</param>
    /// <param name="std">Per-channel standard deviation used to normalize; none when null.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromNormalizedChw(
        ReadOnlySpan<float> values, int width, int height,
        IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null, string? title = null)
    {
        CheckSize(width, height);
        var plane = width * height;
        var channels = values.Length == plane ? 1 : values.Length == 3 * plane ? 3
            : throw new ArgumentException(
                $"values has {values.Length} elements; a {width}×{height} image needs {plane} (grey) or {3 * plane} (RGB).", nameof(values));
        CheckStats(mean, channels, nameof(mean));
        CheckStats(std, channels, nameof(std));
        var rgba = new byte[plane * 4];
        for (var c = 0; c < 3; c++)
        {
            var source = Math.Min(c, channels - 1);
            var m = mean?[source] ?? 0f;
            var s = std?[source] ?? 1f;
            for (var p = 0; p < plane; p++)
            {
                var v = values[source * plane + p] * s + m;
                rgba[4 * p + c] = (byte)Math.Round(Math.Clamp(float.IsFinite(v) ? v : 0f, 0f, 1f) * 255f);
            }
        }
        for (var p = 0; p < plane; p++)
            rgba[4 * p + 3] = 255;
        return new ImageTile(rgba, width, height, title, Color.Black);
    }

    /// <summary>A tile from an encoded image (PNG, JPEG, BMP, GIF, WebP).</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromEncoded(ReadOnlySpan<byte> encoded, string? title = null) =>
        Decode(encoded, title, "The image bytes are not in a format SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP).");

    /// <summary>A tile from an image file (PNG, JPEG, BMP, GIF, WebP).</summary>
    /// <param name="path">The image file.</param>
    /// <param name="title">The text above the tile; optional.</param>
    public static ImageTile FromFile(string path, string? title = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        return Decode(File.ReadAllBytes(path), title, $"'{path}' is not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP).");
    }

    /// <summary>Tiles of images as their source holds them (files, loaded images, encoded bytes).</summary>
    internal static IEnumerable<ImageTile> FromSource(ImageSource source, IReadOnlyList<int> positions) =>
        source.Show(positions).Select((shown, k) => shown.Format switch
        {
            ShownImageFormat.Encoded => Decode(shown.Bytes, null, $"{source.Quote(positions[k])} is not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP)."),
            _ => FromFourChannels(shown.Bytes, shown.Width, shown.Height, redFirst: shown.Format == ShownImageFormat.Rgba32),
        });

    private static ImageTile FromFourChannels(byte[] pixels, int width, int height, bool redFirst)
    {
        CheckLength(pixels.Length, width, height, 4, nameof(pixels));
        var rgba = new byte[pixels.Length];
        for (int d = 0; d < rgba.Length; d += 4)
        {
            rgba[d] = pixels[redFirst ? d : d + 2];
            rgba[d + 1] = pixels[d + 1];
            rgba[d + 2] = pixels[redFirst ? d + 2 : d];
            rgba[d + 3] = 255;
        }
        return new ImageTile(rgba, width, height, null, Color.Black);
    }

    /// <summary>The same pixels with another title.</summary>
    /// <param name="title">The text above the tile; lines split on '\n'.</param>
    /// <param name="color">The title colour; black when null.</param>
    public ImageTile WithTitle(string? title, Color? color = null) => new(_rgba, Width, Height, title, color ?? Color.Black);

    /// <summary>fastai <c>show_results</c> style: actual label over predicted label, green when right, red when wrong.</summary>
    /// <param name="actual">The true label.</param>
    /// <param name="predicted">The predicted label.</param>
    public ImageTile WithResultTitle(string actual, string predicted) =>
        WithTitle($"{actual}\n{predicted}", OutcomeColor(actual, predicted));

    /// <summary>
    /// fastai <c>plot_top_losses</c> style: "prediction/actual / loss / probability", for example "3/8 / 4.21 / 0.02",
    /// red when the prediction is wrong, green when right.
    /// </summary>
    /// <param name="predicted">The predicted label.</param>
    /// <param name="actual">The true label.</param>
    /// <param name="loss">The item's loss.</param>
    /// <param name="probability">The probability the model gave its prediction (fastai) or the actual class.</param>
    public ImageTile WithTopLossTitle(string predicted, string actual, double loss, double probability) =>
        WithTitle(
            string.Create(CultureInfo.InvariantCulture, $"{predicted}/{actual} / {loss:0.00} / {probability:0.00}"),
            OutcomeColor(actual, predicted));

    /// <summary>fastai's matplotlib colours: "green" and "red".</summary>
    private static Color OutcomeColor(string actual, string predicted) =>
        string.Equals(actual, predicted, StringComparison.Ordinal) ? Color.FromArgb(0, 128, 0) : Color.FromArgb(255, 0, 0);

    internal SKBitmap ToBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        System.Runtime.InteropServices.Marshal.Copy(_rgba, 0, bitmap.GetPixels(), _rgba.Length);
        return bitmap;
    }

    private static unsafe ImageTile Decode(ReadOnlySpan<byte> encoded, string? title, string error)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new ArgumentException(error); // SKBitmap.Decode throws a bare null-argument error instead
        using var decoded = SKBitmap.Decode(codec) ?? throw new ArgumentException(error);
        var info = new SKImageInfo(decoded.Width, decoded.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        using var source = decoded.PeekPixels();
        fixed (byte* destination = rgba)
        {
            if (source is null || !source.ReadPixels(info, (IntPtr)destination, info.RowBytes))
                throw new ArgumentException(error);
        }
        return new ImageTile(rgba, decoded.Width, decoded.Height, title, Color.Black);
    }

    private static void CheckSize(int width, int height)
    {
        if (width <= 0 || height <= 0 || (long)width * height > 100_000_000)
            throw new ArgumentOutOfRangeException(nameof(width), $"Image size {width}×{height} is not a valid picture size.");
    }

    private static void CheckLength(int length, int width, int height, int channels, string parameterName)
    {
        CheckSize(width, height);
        if (length != width * height * channels)
            throw new ArgumentException(
                $"{parameterName} has {length} bytes; a {width}×{height} image with {channels} channel(s) needs {width * height * channels}.",
                parameterName);
    }

    private static void CheckStats(IReadOnlyList<float>? stats, int channels, string parameterName)
    {
        if (stats is not null && stats.Count != channels)
            throw new ArgumentException($"{parameterName} has {stats.Count} values but the image has {channels} channel(s).", parameterName);
    }
}
