using System.Collections.Concurrent;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Caching;

/// <summary>The images of a split that made it into a store, and those that did not.</summary>
/// <param name="Store">The pixels.</param>
/// <param name="Kept">Positions (in the split as given) of the images the store holds, in order.</param>
/// <param name="Failed">Images that could not be decoded (left out under <see cref="BadImageHandling.Skip"/>).</param>
/// <param name="SourceSizes">The original size of each kept image.</param>
/// <param name="Reused">True when an existing disk cache was read instead of decoding.</param>
internal sealed record BuiltStore(PixelStore Store, int[] Kept, IReadOnlyList<BadImage> Failed, (int Width, int Height)[] SourceSizes, bool Reused);

/// <summary>
/// Decodes a split of image files into memory or a disk cache (through a <see cref="SplitPixelWriter"/>), in parallel
/// chunks; or opens the split's existing disk cache.
/// </summary>
internal static class PixelStoreBuilder
{
    // One ML.NET cursor per chunk: setting one up costs about as much as decoding a few small images, so chunks are as
    // large as a bounded buffer allows (256 MNIST digits, 106 images at 224 px, 26 at 460 px).
    private const int MaxChunkImages = 256, MinChunkImages = 16;
    private const long ChunkBytes = 16L << 20;

    /// <summary>Decodes every image into one uint8 tensor, allocated once at its final size.</summary>
    public static BuiltStore ToMemory(IReadOnlyList<string> paths, ImageHeader[] headers, PixelDecoder decoder, string splitName,
        BadImageHandling onBadImage, int workers, CancellationToken cancellation)
    {
        using var writer = new MemorySplitWriter(paths.Count, decoder.Pipeline);
        DecodeAll(paths, headers, decoder, writer, onBadImage, workers, cancellation, splitName);
        return Built(writer.Finish(), paths, headers.Select(h => (h.Width, h.Height)).ToArray());
    }

    /// <summary>
    /// Opens the split's cache file in <paramref name="folder"/> when a complete one for <paramref name="key"/> exists
    /// (no file is read then), else decodes every image into a new one, written under a temporary name and moved into
    /// place when complete.
    /// </summary>
    public static BuiltStore ToDisk(IReadOnlyList<string> paths, Func<ImageHeader[]> readHeaders, PixelDecoder decoder, string splitName,
        string folder, string key, BadImageHandling onBadImage, int workers, Action<string> log, CancellationToken cancellation)
    {
        string path = Path.Combine(folder, PixelCacheKey.FileName(splitName, key));
        var stores = new DiskPixelStoreFactory(key, paths.Count, decoder.Pipeline, slot => paths[(int)slot], log);
        if (stores.TryOpen(path, deleteOnClose: false, out string? problem) is { } existing)
        {
            // A cache written while bad images were skipped records them; failing on them is still this run's choice.
            if (onBadImage == BadImageHandling.Fail && existing.Failed.Count > 0)
            {
                existing.Store.Dispose();
                var (position, reason) = existing.Failed.MinBy(f => f.Position);
                throw Undecodable(paths[position], splitName, reason);
            }
            return Built(existing, paths, ((DiskPixelStore)existing.Store).SourceSizes);
        }
        if (problem is not null) log($"The disk cache '{path}' cannot be used ({problem}); decoding the {splitName} images again.");

        var headers = readHeaders();
        var sizes = headers.Select(h => (h.Width, h.Height)).ToArray();
        using var writer = new DiskSplitWriter(path, keyed: true, sizes, stores);
        try
        {
            DecodeAll(paths, headers, decoder, writer, onBadImage, workers, cancellation, splitName);
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<ImageCacheUnavailableException>().FirstOrDefault() is { } full)
        {
            // A worker found the disk full: that, not the parallel loop's wrapper, is what the caller must see.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(full);
        }
        return Built(writer.Finish(), paths, sizes);
    }

    private static InvalidDataException Undecodable(string path, string splitName, string reason) =>
        new($"Could not decode image '{path}' ({splitName} set): {reason}. " +
            "Remove or replace the file, or set BadImageHandling.Skip to leave unreadable images out.");

    private static BuiltStore Built(SplitPixels built, IReadOnlyList<string> paths, (int Width, int Height)[] sizes) =>
        new(built.Store, built.Kept, built.Failed.Select(f => new BadImage(paths[f.Position], f.Reason)).ToList(),
            built.Kept.Select(i => sizes[i]).ToArray(), built.Reused);

    /// <summary>
    /// Decodes, on <paramref name="workers"/> threads and in chunks, every image whose header is usable into
    /// <paramref name="writer"/>, and records every image that failed (header or decoding) there. With
    /// <see cref="BadImageHandling.Fail"/> decoding stops at the first failure a worker meets, and the earliest (in split
    /// order) of those found is thrown, naming the file.
    /// </summary>
    private static void DecodeAll(IReadOnlyList<string> paths, ImageHeader[] headers, PixelDecoder decoder, SplitPixelWriter writer,
        BadImageHandling onBadImage, int workers, CancellationToken cancellation, string splitName)
    {
        var failures = new ConcurrentDictionary<int, string>();
        for (int i = 0; i < headers.Length; i++)
            if (headers[i].Problem is { } problem) failures[i] = problem;
        if (failures.IsEmpty || onBadImage == BadImageHandling.Skip)
        {
            var usable = Enumerable.Range(0, paths.Count).Where(i => headers[i].IsUsable).ToList();
            int itemBytes = decoder.Pipeline.PixelCount;
            int chunkSize = (int)Math.Clamp(ChunkBytes / itemBytes, MinChunkImages, MaxChunkImages);
            // Enough chunks to keep every worker busy on small splits.
            chunkSize = Math.Max(1, Math.Min(chunkSize, (usable.Count + workers - 1) / Math.Max(1, workers)));
            int chunks = (usable.Count + chunkSize - 1) / chunkSize;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellation }, (c, state) =>
            {
                if (onBadImage == BadImageHandling.Fail && !failures.IsEmpty) { state.Stop(); return; }
                var chunk = usable.GetRange(c * chunkSize, Math.Min(chunkSize, usable.Count - c * chunkSize));
                var buffer = new byte[chunk.Count * itemBytes];
                var failed = decoder.Decode(k => paths[chunk[k]], Enumerable.Range(0, chunk.Count).ToList(), k => buffer.AsSpan(k * itemBytes, itemBytes),
                    stopAtFirstFailure: onBadImage == BadImageHandling.Fail).ToDictionary(f => f.Item, f => f.Reason);
                for (int k = 0; k < chunk.Count; k++)
                {
                    if (failed.TryGetValue(k, out string? reason)) failures[chunk[k]] = reason;
                    else writer.Write(chunk[k], buffer.AsSpan(k * itemBytes, itemBytes));
                }
            });
        }
        if (failures.Count > 0 && onBadImage == BadImageHandling.Fail)
        {
            var first = failures.OrderBy(f => f.Key).First();
            throw Undecodable(paths[first.Key], splitName, first.Value);
        }
        if (failures.Count == paths.Count && paths.Count > 0)
        {
            var first = failures.OrderBy(f => f.Key).First();
            throw new InvalidDataException($"None of the {paths.Count} images of the {splitName} set could be decoded; the first, '{paths[first.Key]}': {first.Value}.");
        }
        // The writer's failure list is not thread-safe: filled after the parallel decoding.
        foreach (var (position, reason) in failures) writer.Fail(position, reason);
    }
}
