using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Data.Sources.Columns;
using MLNet.FastAi.Runtime;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data;

public sealed partial class ImageDataLoaders
{
    /// <summary>
    /// The loaders of images from an ML.NET column (loaded images or encoded bytes): the same data path as files —
    /// checks, cache choice, disk cache and key, unreadable images, the log — with rows for files. Encoded bytes share a
    /// disk cache keyed by their contents; loaded images, which nothing identifies short of decoding them, go to memory
    /// or to a disk file of this fit's own. Never streamed: a view has no random access to its rows.
    /// </summary>
    internal static ImageDataLoaders FromColumn(IReadOnlyList<string> classes, ImagePipeline pipeline, ImageDataOptions options,
        (ColumnImages Images, IReadOnlyList<int> Labels) train, (ColumnImages Images, IReadOnlyList<int> Labels) valid, Action poll, CancellationToken cancellation)
    {
        options = options with { CanStream = false };
        options.Validate();
        TorchRuntime.EnsureInitialized();
        if (classes.Count < 2) throw new InvalidDataException($"A classifier needs at least two classes; got {classes.Count}.");
        var data = new ImageDataLoaders(classes, pipeline, options, options.Seed ?? Random.Shared.Next())
        {
            _reading = new ImageReading(options.MaxImagePixels, options.DecodeWorkers ?? Environment.ProcessorCount, options.OnBadImage, cancellation, poll),
        };
        data.Train = new ImageSplit("train", train.Images, train.Labels, classes);
        data.Valid = new ImageSplit("valid", valid.Images, valid.Labels, classes);
        if (train.Images.Kind == ImageColumnKind.Image)
        {
            data._datasetImages = null;
        }
        else
        {
            var hashes = train.Images.ContentHashes.Concat(valid.Images.ContentHashes).Distinct().Order().ToList();
            data._datasetImages = hashes.Select(h => $"xxh3:{h:x16}").ToList();
            data._datasetKey = p => PixelCacheKey.ForContents(hashes, p, options.MaxImagePixels);
        }
        data.DecodeEverySplit();
        return data;
    }

    /// <summary>An empty split's pixels, without a cache decision or a log line: nothing is decoded.</summary>
    private void HoldNoPixels(ImageSplit split)
    {
        lock (_decoded) _decoded[split] = NoPixels(Pipeline);
    }

    /// <summary>A store of no images of the pipeline's size.</summary>
    private static PixelSet NoPixels(ImagePipeline pipeline) =>
        new(new MemoryPixelStore(empty(new long[] { 0, 3, pipeline.Height, pipeline.Width }, ScalarType.Byte).DetachFromDisposeScope()), [], []);
}
