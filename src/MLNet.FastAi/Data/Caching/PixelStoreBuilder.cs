using System.Collections.Concurrent;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Caching;

/// <summary>The images of a split that made it into a store, and those that did not.</summary>
/// <param name="Store">The pixels.</param>
/// <param name="Kept">Positions (in the split as given) of the images the store holds, in order.</param>
/// <param name="Failed">Images that could not be decoded (left out under <see cref="BadImageHandling.Skip"/>).</param>
/// <param name="SourceSizes">The original size of each kept image.</param>
/// <param name="Reused">True when an existing disk cache held every image: nothing was decoded.</param>
internal sealed record BuiltStore(PixelStore Store, int[] Kept, IReadOnlyList<BadImage> Failed, (int Width, int Height)[] SourceSizes, bool Reused)
{
    /// <summary>Images decoded into the store (the rest were in a disk cache already).</summary>
    public int Decoded { get; init; }
}

/// <summary>
/// Decodes a split of image files into memory or the dataset's disk cache (a <see cref="PixelPool"/>), in parallel
/// chunks, decoding only what the disk cache lacks.
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
        var built = Built(writer.Finish(), paths, headers.Select(h => (h.Width, h.Height)).ToArray());
        if (built.Kept.Length == 0 && paths.Count > 0) built.Store.Dispose();
        RefuseAllFailed(built.Failed, paths.Count, splitName);
        return built;
    }

    /// <summary>
    /// The split's images from the dataset's disk cache at <paramref name="file"/> (a <see cref="PixelPool"/>): those
    /// already there are read as they are (no file is read then), the others are decoded and added.
    /// </summary>
    /// <param name="paths">The split's files.</param>
    /// <param name="slots">Each file's slot in the pool.</param>
    /// <param name="readHeaders">The split's headers, read only when something must be decoded.</param>
    /// <param name="decoder">The split's decoder.</param>
    /// <param name="splitName">The split, for messages.</param>
    /// <param name="file">The pool's file.</param>
    /// <param name="key">The pool's key.</param>
    /// <param name="slotCount">The pool's slots: the images of the dataset.</param>
    /// <param name="sourceOfSlot">The file of each slot, to decode a damaged one again.</param>
    /// <param name="onBadImage">Fail or skip on undecodable images (also those the pool records).</param>
    /// <param name="workers">Decoding threads.</param>
    /// <param name="log">Where damaged caches and waits are reported.</param>
    /// <param name="cancellation">Stops decoding.</param>
    public static BuiltStore ToDisk(IReadOnlyList<string> paths, long[] slots, Func<ImageHeader[]> readHeaders, PixelDecoder decoder, string splitName,
        string file, string key, long slotCount, Func<long, string> sourceOfSlot, BadImageHandling onBadImage, int workers, Action<string> log,
        CancellationToken cancellation)
    {
        using var pool = PixelPool.Open(file, key, slotCount, slots.Distinct().ToList(), decoder.Pipeline, log, cancellation);
        if (onBadImage == BadImageHandling.Fail && pool.FirstRecordedFailure(slots) is var (position, reason)) throw Undecodable(paths[position], splitName, reason);
        var settled = pool.Contents.Settled();
        // A split may name a file twice (the same image and label listed twice): its slot is decoded once.
        var missing = Enumerable.Range(0, paths.Count).Where(p => !settled[slots[p]]).DistinctBy(p => slots[p]).ToList();
        PixelPool.SlotWriter? writer = null;
        if (missing.Count > 0)
        {
            var headers = readHeaders();
            writer = pool.Writer(missing.Select(p => slots[p]).ToArray(), missing.Select(p => (headers[p].Width, headers[p].Height)).ToArray());
            try
            {
                DecodeAll(missing.Select(p => paths[p]).ToList(), missing.Select(p => headers[p]).ToArray(), decoder, writer, onBadImage, workers, cancellation, splitName);
            }
            catch (AggregateException e) when (e.InnerExceptions.OfType<ImageCacheUnavailableException>().FirstOrDefault() is { } full)
            {
                // A worker found the disk full: that, not the parallel loop's wrapper, is what the caller must see.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(full);
            }
            pool.Commit(writer);
        }
        var contents = pool.Contents;
        var (kept, failures) = pool.Outcome(slots, writer);
        var failed = failures.Select(f => new BadImage(paths[f.Position], f.Reason)).ToList();
        RefuseAllFailed(failed, paths.Count, splitName);
        var store = pool.Store(kept.Select(p => slots[p]).ToArray(), sourceOfSlot);
        return new BuiltStore(store, kept, failed, kept.Select(p => contents.Sizes[slots[p]]).ToArray(), Reused: missing.Count == 0)
        {
            Decoded = missing.Count(p => contents.Filled[slots[p]]),
        };
    }

    private static void RefuseAllFailed(IReadOnlyList<BadImage> failed, int count, string splitName)
    {
        if (failed.Count < count || count == 0) return;
        throw new InvalidDataException($"None of the {count} images of the {splitName} set could be decoded; the first, '{failed[0].Path}': {failed[0].Reason}.");
    }

    private static InvalidDataException Undecodable(string path, string splitName, string reason) => BadImage.Refusal($"'{path}' ({splitName} set)", reason);

    private static BuiltStore Built(SplitPixels built, IReadOnlyList<string> paths, (int Width, int Height)[] sizes) =>
        new(built.Store, built.Kept, built.Failed.Select(f => new BadImage(paths[f.Position], f.Reason)).ToList(),
            built.Kept.Select(i => sizes[i]).ToArray(), built.Reused);

    /// <summary>
    /// Decodes, on <paramref name="workers"/> threads and in chunks, every image whose header is usable into
    /// <paramref name="writer"/>, and records every image that failed (header or decoding) there. With
    /// <see cref="BadImageHandling.Fail"/> decoding stops at the first failure a worker meets, and the earliest (in split
    /// order) of those found is thrown, naming the file.
    /// </summary>
    private static void DecodeAll(IReadOnlyList<string> paths, ImageHeader[] headers, PixelDecoder decoder, IPixelSink writer,
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
        // The writer's failure list is not thread-safe: filled after the parallel decoding.
        foreach (var (position, reason) in failures) writer.Fail(position, reason);
    }
}
