using System.Security.Cryptography;
using System.Text;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// What a disk cache's pixels depend on: every file (full path, length, last write time, in slot order), the resize
/// definition and the versions of the decoder (ML.NET ImageAnalytics, SkiaSharp) and of this package. A changed, added
/// or removed file, another size or resize method, or another ML.NET changes the key, and with it the cache file's
/// name, so a stale cache is never read.
/// </summary>
internal static class PixelCacheKey
{
    /// <summary>Bumped whenever the file layout or the meaning of its pixels changes.</summary>
    /// <remarks>2: Squish resamples smoothly (IsoCrop, images of the target's proportions), presizing's items are
    /// stretched smoothly; before, both were ImageAnalytics' nearest-neighbour Fill. 3: one file of a dataset's images
    /// per pipeline, with a table of the slots filled (<see cref="PixelPool"/>), instead of one per split.</remarks>
    public const int FormatVersion = 3;

    public static string Compute(IReadOnlyList<string> paths, ImagePipeline pipeline, long maxImagePixels)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(text));
            hash.AppendData("\n"u8);
        }
        Add($"MLNet.FastAi pixel cache {FormatVersion}");
        Add(Decoding(pipeline, maxImagePixels));
        foreach (var path in paths)
        {
            var info = new FileInfo(path);
            Add(info.Exists ? $"{path}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}" : $"{path}\tmissing");
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>
    /// The key of images known by their content (encoded bytes in an ML.NET column): their hashes, in order, with what
    /// decoding depends on.
    /// </summary>
    public static string ForContents(IEnumerable<ulong> contentHashes, ImagePipeline pipeline, long maxImagePixels)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"MLNet.FastAi column pixel cache {FormatVersion}\nencoded bytes\n{Decoding(pipeline, maxImagePixels)}\n"));
        Span<byte> value = stackalloc byte[sizeof(ulong)];
        foreach (var content in contentHashes)
        {
            BitConverter.TryWriteBytes(value, content);
            hash.AppendData(value);
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>
    /// What decoded pixels depend on besides the images: the resize, the size limit, and the versions of the decoder
    /// (ML.NET ImageAnalytics, SkiaSharp) and of this package. Assembly versions do not move (ML.NET keeps 1.0.0.0 for
    /// every release); the informational versions do.
    /// </summary>
    public static string Decoding(ImagePipeline pipeline, long maxImagePixels) =>
        $"{pipeline}; max pixels {maxImagePixels}; " +
        string.Join("; ", new[] { typeof(Microsoft.ML.Data.MLImage).Assembly, typeof(SkiaSharp.SKBitmap).Assembly, typeof(PixelCacheKey).Assembly }
            .Select(a => $"{a.GetName().Name} {InformationalVersion(a)}"));

    private static string InformationalVersion(System.Reflection.Assembly assembly) =>
        assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "unknown";
}
