using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Runtime;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data;

public sealed partial class ImageDataLoaders
{
    /// <summary>
    /// Loaders whose training and validation pixels are decoded elsewhere (from an ML.NET column of loaded images or
    /// encoded bytes, which have no files to decode) and handed over with <see cref="AttachPrebuilt"/>. Until then
    /// they have no splits; their <see cref="Pipeline"/>, <see cref="TrainPipeline"/>, cache policy and log tell the
    /// builder what to produce and where.
    /// </summary>
    internal static ImageDataLoaders ForPrebuiltPixels(IReadOnlyList<string> classes, int imageSize, ImageDataOptions options)
    {
        options.Validate();
        TorchRuntime.EnsureInitialized();
        if (classes.Count < 2) throw new InvalidDataException($"A classifier needs at least two classes; got {classes.Count}.");
        return new ImageDataLoaders(classes, new ImagePipeline(imageSize, imageSize, options.Resize), options, options.Seed ?? Random.Shared.Next());
    }

    /// <summary>Where decoded images may live, and why (shared with builders outside this class).</summary>
    internal CachePolicy CachePolicy => _cache;

    /// <summary>Where choices and skipped images are reported.</summary>
    internal Action<string> LogLine => _log;

    /// <summary>The options the loaders were built with.</summary>
    internal ImageDataOptions DataOptions => _options;

    /// <summary>Installs the splits of <see cref="ForPrebuiltPixels"/>: each split's pixels line up with its items.</summary>
    internal void AttachPrebuilt(ImageSplit train, PixelSet trainPixels, ImageSplit valid, PixelSet validPixels, IEnumerable<BadImage> skipped)
    {
        if (trainPixels.Count != train.Count || validPixels.Count != valid.Count)
            throw new ArgumentException("Every prebuilt image needs exactly one item of its split.");
        lock (_decoded)
        {
            trainPixels.DeviceBudget = validPixels.DeviceBudget = _deviceBudget;
            _decoded[train] = trainPixels;
            _decoded[valid] = validPixels;
            _skipped.AddRange(skipped);
        }
        Train = train;
        Valid = valid;
        _prebuilt = true;
    }

    /// <summary>Whether the images came decoded from an ML.NET column: released, they cannot be decoded again.</summary>
    private bool _prebuilt;

    /// <summary>An empty split's pixels, without a cache decision or a log line: nothing is decoded.</summary>
    private void HoldNoPixels(ImageSplit split)
    {
        lock (_decoded) _decoded[split] = NoPixels(Pipeline);
    }

    /// <summary>A store of no images of the pipeline's size.</summary>
    private static PixelSet NoPixels(ImagePipeline pipeline) =>
        new(new MemoryPixelStore(empty(new long[] { 0, 3, pipeline.Height, pipeline.Width }, ScalarType.Byte).DetachFromDisposeScope()), [], []);
}
