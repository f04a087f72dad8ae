using System.IO.Hashing;
using Microsoft.ML;
using Microsoft.ML.Data;

using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources.Columns;

/// <summary>
/// The first, cheap pass over an ML.NET view of images in a column: every row's label, and — where it can be known
/// without decoding, or must be known — each image's size or why it cannot be used, and for encoded bytes a hash of
/// them (the disk cache's key). Nothing is kept of the images themselves.
/// </summary>
internal sealed class ColumnRowScan
{
    private ColumnRowScan(string what, uint[] keys, (int Width, int Height)[] sizes, string?[] problems, ulong[]? hashes)
    {
        What = what;
        Keys = keys;
        Sizes = sizes;
        Problems = problems;
        Hashes = hashes;
    }

    /// <summary>"training data" or "validation data", for messages.</summary>
    public string What { get; }

    /// <summary>Each row's label key (1-based).</summary>
    public uint[] Keys { get; }

    /// <summary>Each row's image size; (0, 0) where it was not read.</summary>
    public (int Width, int Height)[] Sizes { get; }

    /// <summary>Why a row's image cannot be used; null where it can (as far as this pass can tell).</summary>
    public string?[] Problems { get; }

    /// <summary>XxHash3 of each row's encoded bytes; null for loaded images.</summary>
    public ulong[]? Hashes { get; }

    public int Count => Keys.Length;

    /// <summary>How row <paramref name="row"/> is named in messages and in the learner's splits.</summary>
    public string RowName(int row) => $"row {row} of the {What}";

    /// <summary>Reads the labels and what else <paramref name="kind"/> allows cheaply; sizes of loaded images only when <paramref name="readImageSizes"/>.</summary>
    /// <exception cref="InvalidDataException">A row has no label, or the view has no rows.</exception>
    public static ColumnRowScan Read(IDataView data, string what, string imageColumn, ImageColumnKind kind, string labelColumn,
        IReadOnlyList<string> classes, bool readImageSizes, long maxPixels, Action throwIfCancelled)
    {
        var label = data.Schema[labelColumn];
        var image = data.Schema[imageColumn];
        bool readBytes = kind == ImageColumnKind.EncodedBytes;
        bool readImages = kind == ImageColumnKind.Image && readImageSizes;
        var columns = readBytes || readImages ? new[] { label, image } : new[] { label };
        var keys = new List<uint>();
        var sizes = new List<(int, int)>();
        var problems = new List<string?>();
        var hashes = readBytes ? new List<ulong>() : null;
        using var cursor = data.GetRowCursor(columns);
        var getLabel = cursor.GetGetter<uint>(label);
        var getBytes = readBytes ? cursor.GetGetter<VBuffer<byte>>(image) : null;
        var getImage = readImages ? cursor.GetGetter<MLImage>(image) : null;
        uint key = 0;
        var bytes = default(VBuffer<byte>);
        // Passed back each time, so an upstream LoadImages disposes the previous image: one is held at a time. Never
        // disposed here: an in-memory view hands out its own images, which are not ours to free.
        MLImage? loaded = null;
        while (cursor.MoveNext())
        {
            throwIfCancelled();
            int row = keys.Count;
            getLabel(ref key);
            if (key == 0 || key > classes.Count)
                throw new InvalidDataException($"FastAiCnn: row {row} of the {what} has no label in '{labelColumn}' (a missing key); every training image needs one of [{string.Join(", ", classes)}].");
            keys.Add(key);
            (int, int) size = default;
            string? problem = null;
            if (getBytes is not null)
            {
                getBytes(ref bytes);
                byte[] encoded = EncodedImageDecoder.Bytes(bytes);
                size = EncodedImageDecoder.ReadSize(encoded, maxPixels, out problem) ?? default;
                hashes!.Add(XxHash3.HashToUInt64(encoded));
            }
            else if (getImage is not null)
            {
                problem = ReadImage(getImage, ref loaded, out size);
            }
            sizes.Add(size);
            problems.Add(problem);
        }
        if (keys.Count == 0) throw new InvalidDataException($"FastAiCnn: the {what} has no rows.");
        return new ColumnRowScan(what, keys.ToArray(), sizes.ToArray(), problems.ToArray(), hashes?.ToArray());
    }

    private static string? ReadImage(ValueGetter<MLImage> getImage, ref MLImage? loaded, out (int Width, int Height) size)
    {
        size = default;
        try
        {
            getImage(ref loaded!);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            loaded = null;
            return e.GetBaseException().Message;
        }
        if (loaded is null || loaded.Width < 1 || loaded.Height < 1) return "the row holds no image";
        size = (loaded.Width, loaded.Height);
        return null;
    }
}
