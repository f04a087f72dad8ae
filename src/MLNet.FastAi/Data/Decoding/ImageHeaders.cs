using SkiaSharp;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>A file the decoder could not read, and why.</summary>
/// <param name="Path">The image file.</param>
/// <param name="Reason">The decoder's message.</param>
public sealed record BadImage(string Path, string Reason)
{
    /// <summary>
    /// The refusal of an image that cannot be decoded when unreadable images are not to be skipped: names the image
    /// (<paramref name="image"/>: a quoted path and its split, or a row) and the setting that would leave it out.
    /// </summary>
    internal static InvalidDataException Refusal(string image, string reason) =>
        new($"{ImageHeaders.Refusal(image, reason)} Remove or replace it, or {OptionKey.OnBadImage.Set(BadImageHandling.Skip)} to leave unreadable images out.");
}

/// <summary>What an image's header says: its size, or why the file cannot be used.</summary>
internal readonly record struct ImageHeader(int Width, int Height, string? Problem)
{
    public bool IsUsable => Problem is null;

    /// <summary>The image's size, or the pipeline's where the source could not tell it without decoding (loaded images).</summary>
    public (int Width, int Height) SizeOr(ImagePipeline pipeline) => Width > 0 ? (Width, Height) : (pipeline.Width, pipeline.Height);
}

/// <summary>
/// Checks every image before anything is decoded or trained: the header (size, format, decompression bombs) and that
/// the file is complete. It decodes nothing, so it is cheap enough to run over a whole dataset up front — which is
/// what lets streaming keep the same images in every batch of a fit.
/// </summary>
internal static class ImageHeaders
{
    /// <summary>Whether a problem lies in reading the file now (an I/O error), not in the file: worth trying again later.</summary>
    public static bool IsPassing(string problem) => problem.StartsWith(CouldNotRead, StringComparison.Ordinal);

    private const string CouldNotRead = "the file could not be read";

    /// <summary>The one wording of a refused image, wherever it is refused (<paramref name="image"/>: a quoted path, with its split, or a row).</summary>
    public static string Refusal(string image, string problem) => $"Could not decode image {image}: {problem}.";

    /// <summary>Reads the headers of <paramref name="paths"/> in parallel, in order.</summary>
    public static ImageHeader[] Scan(IReadOnlyList<string> paths, long maxPixels, int workers, CancellationToken cancellation = default)
    {
        var headers = new ImageHeader[paths.Count];
        Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellation },
            i => headers[i] = Read(paths[i], maxPixels));
        return headers;
    }

    /// <summary>
    /// Reads the image header, so that a file claiming an absurd size (a decompression bomb) is refused before the
    /// decoder allocates anything for it and a file that is not an image is named as such; then checks the file is
    /// complete, since the decoder would fill a truncated file's missing rows with black.
    /// </summary>
    public static ImageHeader Read(string path, long maxPixels)
    {
        try
        {
            if (!File.Exists(path)) return new(0, 0, "the file does not exist");
            if (new FileInfo(path).Length == 0) return new(0, 0, "the file is empty");
            using var codec = SKCodec.Create(path);
            return Judge(codec, maxPixels, () => ImageCompleteness.WhyUnreadable(path), c => ImageCompleteness.Problem(path, c));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(0, 0, $"{CouldNotRead} ({e.Message})");
        }
    }

    /// <summary>The same checks as <see cref="Read(string, long)"/> on an encoded image held in memory (an ML.NET bytes column).</summary>
    public static ImageHeader Read(byte[] encoded, long maxPixels)
    {
        if (encoded.Length == 0) return new(0, 0, "it holds no bytes");
        using var codec = SKCodec.Create(new MemoryStream(encoded, writable: false));
        return Judge(codec, maxPixels, () => ImageCompleteness.WhyUnreadable(encoded), c => ImageCompleteness.Problem(encoded, c));
    }

    /// <summary>The one gate: a format the decoder reads, a size within the limit, a complete file.</summary>
    private static ImageHeader Judge(SKCodec? codec, long maxPixels, Func<string?> whyUnreadable, Func<SKCodec, string?> completeness)
    {
        if (codec is null) return new(0, 0, whyUnreadable() ?? "it is not an image in a format the decoder reads (or its header is damaged)");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1) return new(width, height, $"its header claims {width}×{height} pixels");
        if ((long)width * height > maxPixels)
            return new(width, height, $"its header claims {width}×{height} pixels, more than the {maxPixels:N0} allowed ({OptionKey.MaxImagePixels}); refused before decoding");
        return new(width, height, completeness(codec));
    }
}
