using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Sources;

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
/// Builds a split's store in memory or in the dataset's disk cache (a <see cref="PixelPool"/>) from any
/// <see cref="ImageSource"/>, decoding only what the disk cache lacks.
/// </summary>
internal static class PixelStoreBuilder
{
    /// <summary>Decodes every image into one uint8 tensor, allocated once at its final size.</summary>
    public static BuiltStore ToMemory(ImageSource source, ImageHeader[] headers, ImagePipeline pipeline, string splitName, ImageReading reading)
    {
        using var writer = new MemorySplitWriter(source.Count, pipeline);
        return Into(writer, source, headers, pipeline, splitName, reading);
    }

    /// <summary>Decodes every image of <paramref name="source"/> into <paramref name="writer"/> (memory, or a disk file of this fit's own) and finishes its store.</summary>
    public static BuiltStore Into(SplitPixelWriter writer, ImageSource source, ImageHeader[] headers, ImagePipeline pipeline, string splitName, ImageReading reading)
    {
        source.Decode(Enumerable.Range(0, source.Count).ToList(), headers, pipeline, writer, splitName, reading);
        var built = writer.Finish();
        var sizes = headers.Select(h => h.SizeOr(pipeline)).ToArray();
        if (built.Kept.Length == 0 && source.Count > 0) built.Store.Dispose();
        RefuseAllFailed(source, built.Failed, splitName);
        return new BuiltStore(built.Store, built.Kept, built.Failed.Select(f => new BadImage(source.NameOf(f.Position), f.Reason)).ToList(),
            built.Kept.Select(i => sizes[i]).ToArray(), built.Reused) { Decoded = built.Kept.Length };
    }

    /// <summary>
    /// The split's images from the dataset's disk cache at <paramref name="file"/> (a <see cref="PixelPool"/>): those
    /// already there are read as they are (no image is read then), the others are decoded and added.
    /// </summary>
    /// <param name="source">The split's images.</param>
    /// <param name="slots">Each image's slot in the pool.</param>
    /// <param name="readHeaders">The split's headers, read only when something must be decoded.</param>
    /// <param name="pipeline">What the images are decoded to.</param>
    /// <param name="splitName">The split, for messages.</param>
    /// <param name="file">The pool's file.</param>
    /// <param name="key">The pool's key.</param>
    /// <param name="slotCount">The pool's slots: the images of the dataset.</param>
    /// <param name="sourceOfSlot">The file of each slot, to decode a damaged one again.</param>
    /// <param name="reading">Limits, workers, bad-image handling and cancellation.</param>
    /// <param name="log">Where damaged caches and waits are reported.</param>
    public static BuiltStore ToDisk(ImageSource source, long[] slots, Func<ImageHeader[]> readHeaders, ImagePipeline pipeline, string splitName,
        string file, string key, long slotCount, Func<long, string> sourceOfSlot, ImageReading reading, Action<string> log)
    {
        using var pool = PixelPool.Open(file, key, slotCount, slots.Distinct().ToList(), pipeline, log, reading.Cancellation, canStream: source.CanStream);
        if (reading.OnBadImage == BadImageHandling.Fail && pool.FirstRecordedFailure(slots) is var (position, reason))
            throw BadImage.Refusal(source.Subject(position, splitName), reason);
        var settled = pool.Contents.Settled();
        // A split may name an image twice (the same file and label listed twice): its slot is decoded once.
        var missing = Enumerable.Range(0, source.Count).Where(p => !settled[slots[p]]).DistinctBy(p => slots[p]).ToList();
        PixelPool.SlotWriter? writer = null;
        if (missing.Count > 0)
        {
            var headers = readHeaders();
            writer = pool.Writer(missing.Select(p => slots[p]).ToArray(), missing.Select(p => headers[p].SizeOr(pipeline)).ToArray());
            try
            {
                source.Decode(missing, headers, pipeline, writer, splitName, reading);
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
        RefuseAllFailed(source, failures, splitName);
        var failed = failures.Select(f => new BadImage(source.NameOf(f.Position), f.Reason)).ToList();
        var store = pool.Store(kept.Select(p => slots[p]).ToArray(), sourceOfSlot);
        return new BuiltStore(store, kept, failed, kept.Select(p => contents.Sizes[slots[p]]).ToArray(), Reused: missing.Count == 0)
        {
            Decoded = missing.Count(p => contents.Filled[slots[p]]),
        };
    }

    /// <summary>A split none of whose images could be used is refused, naming the first and why.</summary>
    public static void RefuseAllFailed(ImageSource source, IReadOnlyList<(int Position, string Reason)> failed, string splitName)
    {
        if (failed.Count < source.Count || source.Count == 0) return;
        throw new InvalidDataException($"None of the {source.Count} images of the {splitName} set{source.Description} could be decoded; the first, {source.Quote(failed[0].Position)}: {failed[0].Reason}.");
    }
}
