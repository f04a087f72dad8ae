using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources;

/// <summary>
/// Where the images of a split come from — files, or the rows of an ML.NET column of loaded images or encoded bytes —
/// and what only the source knows: how each image is named, how its size and problems are read, how it is decoded to
/// a pipeline's pixels and how it is shown again. Everything else (the cache choice, disk caches and their keys,
/// unreadable images, the log) is the one data path of <see cref="ImageDataLoaders"/>, the same for every source.
/// </summary>
internal abstract class ImageSource
{
    /// <summary>Number of images.</summary>
    public abstract int Count { get; }

    /// <summary>The image's name in the split, in messages and in pictures: its full path, or its row and column.</summary>
    public abstract string NameOf(int position);

    /// <summary>Every image's name, in order (<see cref="NameOf"/>).</summary>
    public virtual IReadOnlyList<string> Names => Enumerable.Range(0, Count).Select(NameOf).ToList();

    /// <summary>The image's name as messages quote it: <c>'path'</c>, or the row as it is.</summary>
    public abstract string Quote(int position);

    /// <summary>How a refusal names image <paramref name="position"/> of split <paramref name="splitName"/>.</summary>
    public abstract string Subject(int position, string splitName);

    /// <summary>What the log line of a split adds about its source: nothing for files, the column and its form for rows.</summary>
    public abstract string Description { get; }

    /// <summary>Whether the images can be decoded again at any position every epoch (files can; a view's rows cannot).</summary>
    public abstract bool CanStream { get; }

    /// <summary>
    /// What identifies image <paramref name="position"/> in the dataset's disk cache (its path, or its content's hash);
    /// null when nothing does short of decoding it (loaded images), so that no later fit could find it there.
    /// </summary>
    public abstract string? CacheIdentity(int position);

    /// <summary>The images at <paramref name="positions"/>, in that order.</summary>
    public abstract ImageSource Subset(IReadOnlyList<int> positions);

    /// <summary>Every image's size, or why it cannot be used, read without decoding it where the source allows.</summary>
    public abstract ImageHeader[] Headers(ImageReading reading);

    /// <summary>
    /// Decodes the images at <paramref name="positions"/> to <paramref name="pipeline"/>'s pixels into
    /// <paramref name="sink"/> (whose position <c>k</c> is <c>positions[k]</c>), recording there each one that cannot
    /// be used; with <see cref="BadImageHandling.Fail"/> the first such image is refused by name instead.
    /// </summary>
    public abstract void Decode(IReadOnlyList<int> positions, ImageHeader[] headers, ImagePipeline pipeline, IPixelSink sink, string splitName, ImageReading reading);

    /// <summary>The images at <paramref name="positions"/> as they are (not resized), for pictures.</summary>
    public abstract IReadOnlyList<ShownImage> Show(IReadOnlyList<int> positions);
}

/// <summary>The layouts a picture of an image comes in.</summary>
internal enum ShownImageFormat
{
    /// <summary>An encoded file (PNG, JPEG, ...).</summary>
    Encoded,

    /// <summary>Four bytes a pixel, red first.</summary>
    Rgba32,

    /// <summary>Four bytes a pixel, blue first.</summary>
    Bgra32,
}

/// <summary>One image for showing: its bytes in <paramref name="Format"/>; the size matters only for decoded pixels.</summary>
internal sealed record ShownImage(byte[] Bytes, ShownImageFormat Format, int Width = 0, int Height = 0);
