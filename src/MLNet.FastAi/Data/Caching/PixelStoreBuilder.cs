using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using MLNet.FastAi.Data.Decoding;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Caching;

/// <summary>The images of a split that made it into a store, and those that did not.</summary>
/// <param name="Store">The pixels.</param>
/// <param name="Kept">Positions (in the split as given) of the images the store holds, in order.</param>
/// <param name="Failed">Images that could not be decoded (left out under <see cref="BadImageHandling.Skip"/>).</param>
/// <param name="SourceSizes">The original size of each kept image.</param>
/// <param name="Reused">True when an existing disk cache was read instead of decoding.</param>
internal sealed record BuiltStore(PixelStore Store, int[] Kept, IReadOnlyList<BadImage> Failed, (int Width, int Height)[] SourceSizes, bool Reused);

/// <summary>Decodes a split into memory or a disk cache, in parallel, each image straight to its final place.</summary>
internal static class PixelStoreBuilder
{
    private const int ChunkSize = 16;

    /// <summary>Decodes every image into one uint8 tensor, allocated once at its final size.</summary>
    public static BuiltStore ToMemory(IReadOnlyList<string> paths, ImageHeader[] headers, PixelDecoder decoder, string splitName,
        BadImageHandling onBadImage, int workers, CancellationToken cancellation)
    {
        var pipeline = decoder.Pipeline;
        var images = empty(new long[] { paths.Count, 3, pipeline.Height, pipeline.Width }, ScalarType.Byte).DetachFromDisposeScope();
        try
        {
            var memory = PixelMemory.Of(images);
            var failed = DecodeAll(paths, headers, onBadImage, workers, cancellation, splitName,
                (chunk, decoded) => decoder.Decode(i => paths[chunk[i]], decoded, i => memory.Item(chunk[i], pipeline.PixelCount), onBadImage == BadImageHandling.Fail));
            var kept = Enumerable.Range(0, paths.Count).Where(i => !failed.ContainsKey(i)).ToArray();
            if (kept.Length < paths.Count)
            {
                // Moved down in place: a copy of the kept images would double the peak.
                for (int k = 0; k < kept.Length; k++)
                    if (kept[k] != k) memory.Item(kept[k], pipeline.PixelCount).CopyTo(memory.Item(k, pipeline.PixelCount));
                using var all = images;
                images = all.narrow(0, 0, kept.Length).clone().DetachFromDisposeScope();
            }
            return new BuiltStore(new MemoryPixelStore(images), kept, Bad(paths, failed), kept.Select(i => (headers[i].Width, headers[i].Height)).ToArray(), Reused: false);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the split's cache file in <paramref name="folder"/> when a complete one for <paramref name="key"/> exists,
    /// else decodes every image into a new one (under a temporary name, moved into place when complete).
    /// </summary>
    public static BuiltStore ToDisk(IReadOnlyList<string> paths, Func<ImageHeader[]> readHeaders, PixelDecoder decoder, string splitName,
        string folder, string key, BadImageHandling onBadImage, int workers, Action<string> log, CancellationToken cancellation)
    {
        string path = Path.Combine(folder, PixelCacheKey.FileName(splitName, key));
        var existing = TryOpen(path, key, paths, decoder, log, out string? problem);
        if (existing is not null) return existing;
        if (problem is not null) log($"The disk cache '{path}' cannot be used ({problem}); decoding the {splitName} images again.");

        Directory.CreateDirectory(folder);
        var headers = readHeaders();
        var sizes = headers.Select(h => (h.Width, h.Height)).ToArray();
        var pipeline = decoder.Pipeline;
        var layout = PixelCacheFile.Plan(new PixelCacheFile.Header(key, paths.Count, pipeline.Height, pipeline.Width));
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var hashes = new ulong[paths.Count];
        try
        {
            using (var file = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.None, layout.FileLength(0)))
            {
                var failed = DecodeAll(paths, headers, onBadImage, workers, cancellation, splitName, (chunk, decoded) =>
                {
                    int itemBytes = (int)layout.ItemBytes;
                    var buffer = new byte[chunk.Count * layout.ItemBytes];
                    var failures = decoder.Decode(i => paths[chunk[i]], decoded, i => buffer.AsSpan(i * itemBytes, itemBytes), onBadImage == BadImageHandling.Fail);
                    var bad = failures.Select(f => f.Item).ToHashSet();
                    foreach (int i in decoded.Where(i => !bad.Contains(i)))
                    {
                        var pixels = buffer.AsSpan(i * itemBytes, itemBytes);
                        hashes[chunk[i]] = PixelCacheFile.HashOf(pixels);
                        RandomAccess.Write(file, pixels, layout.DataOffset + chunk[i] * layout.ItemBytes);
                    }
                    return failures;
                });
                layout.WriteTables(file, hashes, sizes, failed.OrderBy(f => f.Key).Select(f => new PixelCacheFile.FailedItem(f.Key, f.Value)).ToList());
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        return TryOpen(path, key, paths, decoder, log, out string? why) is { } built
            ? built with { Reused = false }
            : throw new IOException($"The disk cache '{path}' written just now cannot be read back: {why}.");
    }

    /// <summary>The store of a complete cache file for <paramref name="key"/>; null (with the reason, if the file exists) otherwise.</summary>
    private static BuiltStore? TryOpen(string path, string key, IReadOnlyList<string> paths, PixelDecoder decoder, Action<string> log, out string? problem)
    {
        problem = null;
        if (!File.Exists(path)) return null;
        SafeFileHandle? file = null;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            var (contents, why) = PixelCacheFile.Open(file, key);
            if (contents is null || contents.Layout.Info.Count != paths.Count)
            {
                problem = why ?? "it holds another number of images";
                file.Dispose();
                return null;
            }
            var failed = contents.Failed.ToDictionary(f => (int)f.Index, f => f.Reason);
            var kept = Enumerable.Range(0, paths.Count).Where(i => !failed.ContainsKey(i)).ToArray();
            var disk = new DiskPixelStore(file, contents.Layout, contents.Hashes, contents.Sizes, contents.Failed, kept.Select(i => (long)i).ToArray(),
                slot => paths[(int)slot], decoder, log);
            return new BuiltStore(disk, kept, Bad(paths, failed), kept.Select(i => contents.Sizes[i]).ToArray(), Reused: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            problem = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Runs <paramref name="decodeChunk"/> over chunks of the images whose headers are usable, on
    /// <paramref name="workers"/> threads; returns every image that failed (header or decoding). With
    /// <see cref="BadImageHandling.Fail"/> the first failure (in split order) is thrown, naming the file.
    /// </summary>
    /// <param name="decodeChunk">Decodes the images at the given positions of a chunk (positions into the chunk); returns those that failed.</param>
    private static IReadOnlyDictionary<int, string> DecodeAll(IReadOnlyList<string> paths, ImageHeader[] headers, BadImageHandling onBadImage, int workers,
        CancellationToken cancellation, string splitName, Func<IReadOnlyList<int>, IReadOnlyList<int>, List<(int Item, string Reason)>> decodeChunk)
    {
        var failures = new ConcurrentDictionary<int, string>();
        for (int i = 0; i < headers.Length; i++)
            if (headers[i].Problem is { } problem) failures[i] = problem;
        if (failures.IsEmpty || onBadImage == BadImageHandling.Skip)
        {
            var usable = Enumerable.Range(0, paths.Count).Where(i => headers[i].IsUsable).ToList();
            int chunks = (usable.Count + ChunkSize - 1) / ChunkSize;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellation }, (c, state) =>
            {
                if (onBadImage == BadImageHandling.Fail && !failures.IsEmpty) { state.Stop(); return; }
                var chunk = usable.GetRange(c * ChunkSize, Math.Min(ChunkSize, usable.Count - c * ChunkSize));
                foreach (var (i, reason) in decodeChunk(chunk, Enumerable.Range(0, chunk.Count).ToList())) failures[chunk[i]] = reason;
            });
        }
        if (failures.Count > 0 && onBadImage == BadImageHandling.Fail)
        {
            var first = failures.OrderBy(f => f.Key).First();
            throw new InvalidDataException(
                $"Could not decode image '{paths[first.Key]}' ({splitName} set): {first.Value}. " +
                "Remove or replace the file, or set BadImageHandling.Skip to leave unreadable images out.");
        }
        if (failures.Count == paths.Count && paths.Count > 0)
        {
            var first = failures.OrderBy(f => f.Key).First();
            throw new InvalidDataException($"None of the {paths.Count} images of the {splitName} set could be decoded; the first, '{paths[first.Key]}': {first.Value}.");
        }
        return failures;
    }

    private static List<BadImage> Bad(IReadOnlyList<string> paths, IReadOnlyDictionary<int, string> failed) =>
        failed.OrderBy(f => f.Key).Select(f => new BadImage(paths[f.Key], f.Value)).ToList();

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
