using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>A file the decoder could not read, and why.</summary>
/// <param name="Path">The image file.</param>
/// <param name="Reason">The decoder's message.</param>
public sealed record BadImage(string Path, string Reason);

/// <summary>Decodes a split through <see cref="ImagePipeline"/> into an <see cref="ImageTensorSet"/>, in parallel over all cores.</summary>
internal static class ImageDecoder
{
    private const int ChunkSize = 256;
    private const string PixelsColumn = "__FastAiPixels";

    /// <summary>
    /// Decodes every image of <paramref name="split"/>. Unreadable files stop the run with an error naming the file
    /// (<see cref="BadImageHandling.Fail"/>) or are left out and listed in <paramref name="bad"/>.
    /// </summary>
    /// <returns>The tensors and the indices (into the split) of the images they hold, in order.</returns>
    public static (ImageTensorSet Set, int[] Kept) Decode(ImageSplit split, ImagePipeline pipeline, BadImageHandling onBadImage,
        List<BadImage> bad, long maxPixels = ImageDataOptions.DefaultMaxImagePixels, CancellationToken cancellation = default)
    {
        pipeline.Validate();
        var context = new MLContext(seed: 0);
        var empty = context.Data.LoadFromEnumerable(Array.Empty<PathRow>());
        var transformer = pipeline.BuildEstimator(context, nameof(PathRow.ImagePath), imageColumnIsPath: true, PixelsColumn, asFloat: false).Fit(empty);

        int n = split.Count, size = pipeline.PixelCount;
        // One buffer per chunk: a single array would cap a split at 2 GB of pixels.
        int chunkCount = (n + ChunkSize - 1) / ChunkSize;
        var pixels = Enumerable.Range(0, chunkCount).Select(c => new byte[(long)Math.Min(ChunkSize, n - c * ChunkSize) * size]).ToArray();
        var ok = new bool[n];
        var failures = new ConcurrentBag<(int Index, string Reason)>();
        var chunks = Enumerable.Range(0, chunkCount);
        Parallel.ForEach(chunks, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellation }, chunk =>
        {
            int start = chunk * ChunkSize, end = Math.Min(n, start + ChunkSize);
            var candidates = new List<int>();
            for (int i = start; i < end; i++)
            {
                // Headers first: bad files are named exactly, and a decompression bomb is refused before any allocation.
                if (HeaderProblem(split.Paths[i], maxPixels) is { } problem) failures.Add((i, problem));
                else candidates.Add(i);
            }
            if (onBadImage == BadImageHandling.Fail && !failures.IsEmpty) return;
            if (TryDecodeRows(context, transformer, split, candidates, pixels[chunk], start, size, ok, out _)) return;
            // ML.NET's cursors may decode ahead of the row they report, so a failure is pinned down one row at a time.
            foreach (int i in candidates.Where(i => !ok[i]))
            {
                if (!TryDecodeRows(context, transformer, split, new[] { i }, pixels[chunk], start, size, ok, out string? reason))
                {
                    failures.Add((i, reason!));
                    if (onBadImage == BadImageHandling.Fail) return;
                }
            }
        });

        var failed = failures.OrderBy(f => f.Index).ToList();
        if (failed.Count > 0 && onBadImage == BadImageHandling.Fail)
        {
            var first = failed[0];
            throw new InvalidDataException(
                $"Could not decode image '{split.Paths[first.Index]}' ({split.Name} set): {first.Reason}. " +
                "Remove or replace the file, or set BadImageHandling.Skip to leave unreadable images out.");
        }
        bad.AddRange(failed.Select(f => new BadImage(split.Paths[f.Index], f.Reason)));

        var kept = Enumerable.Range(0, n).Where(i => ok[i]).ToArray();
        if (kept.Length == 0)
            throw new InvalidDataException($"None of the {n} images of the {split.Name} set could be decoded; the first, '{split.Paths[failed[0].Index]}': {failed[0].Reason}.");
        using var scope = NewDisposeScope();
        var parts = pixels.Select((chunk, c) => KeptPart(chunk, c * ChunkSize, ok, size, pipeline)).Where(t => t is not null).ToList();
        var images = parts.Count == 1 ? parts[0]! : cat(parts!, 0);
        var labels = tensor(kept.Select(i => (long)split.LabelIndices[i]).ToArray(), new long[] { kept.Length }, dtype: ScalarType.Int64);
        return (new ImageTensorSet(images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope()), kept);
    }

    /// <summary>Decodes the given rows in one ML.NET cursor; false (with the error) when any of them fails.</summary>
    private static bool TryDecodeRows(MLContext context, ITransformer transformer, ImageSplit split, IReadOnlyList<int> indices,
        byte[] pixels, int pixelsOffset, int size, bool[] ok, out string? reason)
    {
        reason = null;
        if (indices.Count == 0) return true;
        var rows = indices.Select(i => new PathRow { ImagePath = split.Paths[i] }).ToList();
        var output = transformer.Transform(context.Data.LoadFromEnumerable(rows));
        var column = output.Schema[PixelsColumn];
        try
        {
            using var cursor = output.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<VBuffer<byte>>(column);
            var buffer = default(VBuffer<byte>);
            int k = 0;
            while (cursor.MoveNext())
            {
                int index = indices[k++];
                getter(ref buffer);
                if (buffer.Length != size) throw new InvalidDataException($"decoded to {buffer.Length} values instead of {size}");
                var target = pixels.AsSpan((index - pixelsOffset) * size, size);
                if (buffer.IsDense) buffer.GetValues().CopyTo(target);
                else { target.Clear(); buffer.CopyTo(target); }
                ok[index] = true;
            }
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            reason = e.GetBaseException().Message;
            return false;
        }
    }

    /// <summary>
    /// Reads the image header, so that a file claiming an absurd size (a decompression bomb) is refused before the
    /// decoder allocates anything for it and a file that is not an image is named as such; then checks the file is
    /// complete, since the decoder would fill a truncated file's missing rows with black. Null when fine.
    /// </summary>
    internal static string? HeaderProblem(string path, long maxPixels)
    {
        if (!File.Exists(path)) return "the file does not exist";
        if (new FileInfo(path).Length == 0) return "the file is empty";
        using var codec = SKCodec.Create(path);
        if (codec is null) return "it is not an image in a format the decoder reads (or its header is damaged)";
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1) return $"its header claims {width}×{height} pixels";
        if ((long)width * height > maxPixels)
            return $"its header claims {width}×{height} pixels, more than the {maxPixels:N0} allowed (ImageDataOptions.MaxImagePixels); refused before decoding";
        return ImageCompleteness.Problem(path, codec);
    }

    /// <summary>The decoded images of one chunk as a uint8 tensor, failed rows left out; null when none decoded.</summary>
    private static Tensor? KeptPart(byte[] chunk, int offset, bool[] ok, int size, ImagePipeline pipeline)
    {
        int rows = chunk.Length / size;
        var keep = Enumerable.Range(0, rows).Where(r => ok[offset + r]).ToArray();
        if (keep.Length == 0) return null;
        byte[] data = chunk;
        if (keep.Length < rows)
        {
            data = new byte[(long)keep.Length * size];
            for (int k = 0; k < keep.Length; k++) Array.Copy(chunk, (long)keep[k] * size, data, (long)k * size, size);
        }
        return tensor(data, new long[] { keep.Length, 3, pipeline.Height, pipeline.Width }, dtype: ScalarType.Byte);
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
