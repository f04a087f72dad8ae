using System.Buffers.Binary;
using SkiaSharp;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// Finds image files that end early. SkiaSharp, and so ML.NET's LoadImages, decodes a truncated PNG or JPEG without
/// complaint and fills the missing rows with black; fastai (through PIL) refuses such files. PNG and JPEG, the formats
/// of nearly every dataset, are checked by walking their structure, which reads the file but decodes nothing; other
/// formats are decoded once to see whether the decoder reached the end.
/// </summary>
internal static class ImageCompleteness
{
    /// <summary>Why the file is incomplete, or null when it is whole.</summary>
    public static string? Problem(string path, SKCodec codec) =>
        codec.EncodedFormat is SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg ? Read(path, out var bytes) ?? Problem(bytes, codec) : Problem([], codec);

    /// <summary>Why the encoded image is incomplete, or null when it is whole.</summary>
    public static string? Problem(byte[] encoded, SKCodec codec)
    {
        switch (codec.EncodedFormat)
        {
            case SKEncodedImageFormat.Png:
                return PngProblem(encoded);
            case SKEncodedImageFormat.Jpeg:
                return JpegProblem(encoded);
            default:
                var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
                using (var bitmap = new SKBitmap(info))
                {
                    var result = codec.GetPixels(info, bitmap.GetPixels());
                    return result switch
                    {
                        SKCodecResult.Success => null,
                        SKCodecResult.IncompleteInput => "the file is truncated (the decoder ran out of data)",
                        _ => $"the decoder failed ({result})",
                    };
                }
        }
    }

    /// <summary>
    /// Why a file the decoder cannot open at all is unusable, when it starts as a PNG or JPEG does: a header without
    /// the data after it is truncated, not "not an image". Null for other files.
    /// </summary>
    public static string? WhyUnreadable(string path)
    {
        var start = new byte[8];
        int read;
        try
        {
            using var file = File.OpenRead(path);
            read = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the file could not be read ({e.Message})";
        }
        if (Kind(start.AsSpan(0, read)) is null) return null;
        return Read(path, out var bytes) ?? WhyUnreadable(bytes);
    }

    /// <inheritdoc cref="WhyUnreadable(string)"/>
    public static string? WhyUnreadable(byte[] encoded)
    {
        if (Kind(encoded) is not { } kind) return null;
        bool png = kind == SKEncodedImageFormat.Png;
        string? problem = png ? PngProblem(encoded) : JpegProblem(encoded);
        // Whole, yet unreadable: what is left is the header (a zero size, an unknown colour type, ...).
        return problem ?? $"it is a {(png ? "PNG" : "JPEG")} file whose header is damaged (the decoder cannot read it)";
    }

    /// <summary>PNG or JPEG by the first bytes; null for anything else.</summary>
    private static SKEncodedImageFormat? Kind(ReadOnlySpan<byte> start) =>
        start.Length >= 8 && start[..8].SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }) ? SKEncodedImageFormat.Png
        : start.Length >= 3 && start[0] == 0xFF && start[1] == 0xD8 && start[2] == 0xFF ? SKEncodedImageFormat.Jpeg
        : null;

    /// <summary>The file's bytes; a file that changed or vanished since its header was read is a problem, not a crash.</summary>
    private static string? Read(string path, out byte[] bytes)
    {
        try
        {
            bytes = File.ReadAllBytes(path);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            bytes = [];
            return $"the file could not be read ({e.Message})";
        }
    }

    /// <summary>Walks the chunks after the signature: each must fit in the file, and the last must be IEND.</summary>
    internal static string? PngProblem(ReadOnlySpan<byte> png)
    {
        long position = 8;
        while (position + 8 <= png.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png.Slice((int)position, 4));
            var type = png.Slice((int)position + 4, 4);
            long end = position + 12 + length;  // length, type, data, CRC
            if (end > png.Length)
                return $"the file is truncated (its '{System.Text.Encoding.ASCII.GetString(type)}' chunk needs {end:N0} bytes, the file has {png.Length:N0})";
            if (type.SequenceEqual("IEND"u8)) return null;
            position = end;
        }
        return "the file is truncated (it ends before the PNG end chunk, IEND)";
    }

    /// <summary>
    /// Walks the marker segments and entropy-coded scans after the start-of-image marker up to the end-of-image
    /// marker (bytes after it are allowed). Inside a scan a 0xFF byte is followed by 0x00 (stuffing) or a restart
    /// marker, so the first other marker ends the scan.
    /// </summary>
    internal static string? JpegProblem(ReadOnlySpan<byte> jpeg)
    {
        const string Truncated = "the file is truncated (it ends before the JPEG end-of-image marker)";
        int position = 2;
        while (true)
        {
            if (position >= jpeg.Length) return Truncated;
            if (jpeg[position] != 0xFF) return $"the JPEG data is damaged (no marker at byte {position:N0})";
            while (position < jpeg.Length && jpeg[position] == 0xFF) position++;  // fill bytes
            if (position >= jpeg.Length) return Truncated;
            byte marker = jpeg[position++];
            if (marker == 0xD9) return null;
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7)) continue;  // markers without a length
            if (position + 2 > jpeg.Length) return Truncated;
            int length = BinaryPrimitives.ReadUInt16BigEndian(jpeg.Slice(position, 2));
            if (length < 2) return $"the JPEG data is damaged (a segment of length {length} at byte {position:N0})";
            position += length;
            if (position > jpeg.Length) return Truncated;
            if (marker != 0xDA) continue;
            // Entropy-coded data of a scan: runs to the next marker that is neither stuffing nor a restart.
            while (true)
            {
                int next = jpeg[position..].IndexOf((byte)0xFF);
                if (next < 0 || position + next + 1 >= jpeg.Length) return Truncated;
                position += next;
                byte after = jpeg[position + 1];
                if (after == 0x00 || after is >= 0xD0 and <= 0xD7 || after == 0xFF)
                {
                    position += after == 0xFF ? 1 : 2;
                    continue;
                }
                break;
            }
        }
    }
}
