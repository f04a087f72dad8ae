using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
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
        List<BadImage> bad, CancellationToken cancellation = default)
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
            int failedAt = DecodeRange(context, transformer, split, start, end, pixels[chunk], chunk * ChunkSize, size, ok, out _);
            if (failedAt < 0) return;
            // ML.NET decodes rows ahead of the cursor on worker threads, so an error surfaces at the cursor's position,
            // not at the row that caused it, and ends the cursor. Rows before that position were delivered intact; the
            // rest are decoded one per cursor, which pins each failure on its own file.
            for (int row = failedAt; row < end; row++)
            {
                if (DecodeRange(context, transformer, split, row, row + 1, pixels[chunk], chunk * ChunkSize, size, ok, out string? reason) < 0) continue;
                failures.Add((row, reason!));
                if (onBadImage == BadImageHandling.Fail) return;
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
            throw new InvalidDataException($"None of the {n} images of the {split.Name} set could be decoded.");
        using var scope = NewDisposeScope();
        var parts = pixels.Select((chunk, c) => KeptPart(chunk, c * ChunkSize, ok, size, pipeline)).Where(t => t is not null).ToList();
        var images = parts.Count == 1 ? parts[0]! : cat(parts!, 0);
        var labels = tensor(kept.Select(i => (long)split.LabelIndices[i]).ToArray(), new long[] { kept.Length }, dtype: ScalarType.Int64);
        return (new ImageTensorSet(images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope()), kept);
    }

    /// <summary>Decodes rows [start, end); returns -1 when all succeeded, else the index of the first failure.</summary>
    private static int DecodeRange(MLContext context, ITransformer transformer, ImageSplit split, int start, int end,
        byte[] pixels, int pixelsOffset, int size, bool[] ok, out string? reason)
    {
        reason = null;
        var rows = Enumerable.Range(start, end - start).Select(i => new PathRow { ImagePath = split.Paths[i] }).ToList();
        var output = transformer.Transform(context.Data.LoadFromEnumerable(rows));
        var column = output.Schema[PixelsColumn];
        int index = start;
        try
        {
            using var cursor = output.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<VBuffer<byte>>(column);
            var buffer = default(VBuffer<byte>);
            while (cursor.MoveNext())
            {
                if (!File.Exists(split.Paths[index])) throw new FileNotFoundException("the file does not exist");
                getter(ref buffer);
                if (buffer.Length != size) throw new InvalidDataException($"decoded to {buffer.Length} values instead of {size}");
                var target = pixels.AsSpan((index - pixelsOffset) * size, size);
                if (buffer.IsDense) buffer.GetValues().CopyTo(target);
                else { target.Clear(); buffer.CopyTo(target); }
                ok[index] = true;
                index++;
            }
            return -1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            reason = Innermost(e).Message;
            return index;
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

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
