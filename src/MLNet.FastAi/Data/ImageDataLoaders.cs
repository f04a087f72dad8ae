using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Runtime;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data;

/// <summary>
/// A labelled image dataset ready for training: training, validation and (optionally) test splits, the class list,
/// the resize definition, batch size, normalization and augmentation — fastai's <c>ImageDataLoaders</c>. Images are
/// decoded once, in parallel, when the loaders are built; unreadable files stop the build with an error naming them
/// (or are skipped, per <see cref="ImageDataOptions.OnBadImage"/>).
/// </summary>
/// <remarks>
/// Once built, reading the splits, classes, pipeline and settings is safe from several threads. Reconfiguring
/// (<see cref="Normalize"/>, <see cref="Augment"/>, <see cref="WithoutAugmentation"/>) is not, nor is
/// <see cref="TestSplit"/>, which decodes and records new images (a learner calls it when it predicts files).
/// </remarks>
public sealed partial class ImageDataLoaders : IDisposable
{
    private readonly Dictionary<ImageSplit, ImageTensorSet> _decoded = new();
    private readonly Dictionary<ImageSplit, ImageSplit> _survivors = new();
    private readonly List<BadImage> _skipped = new();
    private readonly ImageDataOptions _options;

    private ImageDataLoaders(IReadOnlyList<string> classes, ImagePipeline pipeline, ImageDataOptions options, int seed)
    {
        Classes = classes;
        Pipeline = pipeline;
        _options = options;
        Seed = seed;
        Normalization = options.Normalization;
        Augmentation = options.Augmentation;
        Train = Valid = null!;
    }

    /// <summary>Class names in index order (sorted ordinally, as fastai's vocab).</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => Classes.Count;

    /// <summary>The training images (after any unreadable ones were skipped).</summary>
    public ImageSplit Train { get; private set; }

    /// <summary>The validation images.</summary>
    public ImageSplit Valid { get; private set; }

    /// <summary>The test images, kept apart from training and validation; null when no test set was given.</summary>
    public ImageSplit? Test { get; private set; }

    /// <summary>How each file becomes pixels: the same definition the saved ML.NET model applies.</summary>
    public ImagePipeline Pipeline { get; }

    /// <summary>Training batch size.</summary>
    public int BatchSize => _options.BatchSize;

    /// <summary>Batch size for validation, test and predictions.</summary>
    public int ValidBatchSize => _options.ValidBatchSize ?? 2 * _options.BatchSize;

    /// <summary>The seed used for the split, shuffling and augmentation.</summary>
    public int Seed { get; }

    /// <summary>Input normalization; null until set with <see cref="Normalize"/> or chosen by a learner.</summary>
    public NormalizationStats? Normalization { get; private set; }

    /// <summary>Training augmentation, or null.</summary>
    public AugmentationOptions? Augmentation { get; private set; }

    /// <summary>
    /// Images that could not be decoded and were left out (only with <see cref="BadImageHandling.Skip"/>): a copy, as
    /// decoding a test split later may add to it.
    /// </summary>
    public IReadOnlyList<BadImage> SkippedImages
    {
        get
        {
            lock (_decoded) return _skipped.ToList();
        }
    }

    /// <summary>Files that were not images (by extension) and were ignored while scanning folders.</summary>
    public int IgnoredNonImageFiles { get; private set; }

    /// <summary>Sets the normalization statistics (fastai's <c>.normalize(stats)</c>); returns this object.</summary>
    public ImageDataLoaders Normalize(NormalizationStats stats)
    {
        stats.Validate();
        Normalization = stats;
        return this;
    }

    /// <summary>Sets training augmentation (fastai's <c>batch_tfms=aug_transforms()</c>); null turns it off. Returns this object.</summary>
    public ImageDataLoaders Augment(AugmentationOptions? options = null)
    {
        options ??= AugmentationOptions.Default;
        options.Validate();
        Augmentation = options;
        return this;
    }

    /// <summary>Turns training augmentation off; returns this object.</summary>
    public ImageDataLoaders WithoutAugmentation()
    {
        Augmentation = null;
        return this;
    }

    /// <summary>
    /// A split of new images to predict on with this dataset's classes and pixel pipeline (fastai's <c>test_dl</c>).
    /// Labels are optional; a label outside <see cref="Classes"/> is an error.
    /// </summary>
    public ImageSplit TestSplit(IEnumerable<string> imagePaths, IEnumerable<string?>? labels = null)
    {
        var paths = imagePaths.Select(Path.GetFullPath).ToList();
        var labelList = labels?.ToList();
        if (labelList is not null && labelList.Count != paths.Count)
            throw new ArgumentException($"{paths.Count} images but {labelList.Count} labels.", nameof(labels));
        var indices = paths.Select((p, i) => labelList?[i] is { } l ? IndexOfClass(l, p) : -1).ToList();
        return SplitFor(new ImageSplit("test", paths, indices, Classes));
    }

    /// <summary>The decoded tensors of a split of this dataset.</summary>
    internal ImageTensorSet Decoded(ImageSplit split)
    {
        lock (_decoded)
        {
            return _decoded[SplitFor(split)];
        }
    }

    /// <summary>
    /// The split as decoded: the same object, or a copy without the images that could not be decoded (so that its
    /// paths line up with the decoded tensors). Decodes on first use.
    /// </summary>
    internal ImageSplit SplitFor(ImageSplit split)
    {
        lock (_decoded)
        {
            if (_decoded.ContainsKey(split)) return split;
            if (_survivors.TryGetValue(split, out var survivor)) return survivor;
        }
        return Decode(split);
    }

    /// <summary>
    /// Frees the decoded tensors of a split made by <see cref="TestSplit"/>, so that one-off predictions do not keep
    /// their images for the life of the loaders. The training, validation and test splits are never released.
    /// </summary>
    internal void Release(ImageSplit split)
    {
        lock (_decoded)
        {
            var survivor = _survivors.TryGetValue(split, out var s) ? s : split;
            if (ReferenceEquals(survivor, Train) || ReferenceEquals(survivor, Valid) || ReferenceEquals(survivor, Test)) return;
            if (_decoded.Remove(survivor, out var set)) set.Dispose();
            _survivors.Remove(split);
            _survivors.Remove(survivor);
        }
    }

    /// <summary>Number of splits whose decoded tensors are held.</summary>
    internal int DecodedSplitCount
    {
        get
        {
            lock (_decoded) return _decoded.Count;
        }
    }

    /// <summary>A batch loader for a split on a device: shuffled, augmented and dropping the last batch only for training.</summary>
    internal BatchLoader Loader(ImageSplit split, Device device, bool training, NormalizationStats normalization) =>
        new(Decoded(split), training ? BatchSize : ValidBatchSize, shuffle: training, dropLast: training, device,
            normalization, training ? Augmentation : null, Seed);

    /// <summary>An in-order loader over a split with explicit augmentation (test-time augmentation, show_batch).</summary>
    internal BatchLoader OrderedLoader(ImageSplit split, Device device, NormalizationStats normalization, AugmentationOptions? augmentation, int seed, int? batchSize = null) =>
        new(Decoded(split), batchSize ?? ValidBatchSize, shuffle: false, dropLast: false, device, normalization, augmentation, seed);

    private ImageSplit Decode(ImageSplit split)
    {
        var bad = new List<BadImage>();
        var (set, kept) = ImageDecoder.Decode(split, Pipeline, _options.OnBadImage, bad, _options.MaxImagePixels);
        var survivor = kept.Length == split.Count ? split
            : new ImageSplit(split.Name, kept.Select(i => split.Paths[i]).ToList(), kept.Select(i => split.LabelIndices[i]).ToList(), Classes);
        lock (_decoded)
        {
            _skipped.AddRange(bad);
            _decoded[survivor] = set;
            _survivors[split] = survivor;
        }
        if (ReferenceEquals(split, Train)) Train = survivor;
        else if (ReferenceEquals(split, Valid)) Valid = survivor;
        else if (ReferenceEquals(split, Test)) Test = survivor;
        return survivor;
    }

    private int IndexOfClass(string label, string path)
    {
        int index = Classes.ToList().IndexOf(label);
        if (index < 0)
            throw new InvalidDataException($"Image '{path}' is labelled '{label}', a class the training set does not have (classes: {string.Join(", ", Classes)}).");
        return index;
    }

    /// <summary>Frees the decoded images.</summary>
    public void Dispose()
    {
        lock (_decoded)
        {
            foreach (var set in _decoded.Values) set.Dispose();
            _decoded.Clear();
            _survivors.Clear();
        }
    }

    /// <summary>Builds the loaders from labelled lists; every factory ends here.</summary>
    internal static ImageDataLoaders FromItems(IReadOnlyList<(string Path, string Label)> train, IReadOnlyList<(string Path, string Label)> valid,
        IReadOnlyList<(string Path, string? Label)>? test, ImageDataOptions? options, int ignoredFiles = 0, IReadOnlyList<string>? classOrder = null)
    {
        options ??= new ImageDataOptions();
        options.Validate();
        TorchRuntime.EnsureInitialized();
        if (train.Count == 0) throw new InvalidDataException("The training set is empty.");
        if (valid.Count == 0) throw new InvalidDataException("The validation set is empty.");
        var classes = classOrder?.ToList() ?? train.Select(t => t.Label).Distinct().OrderBy(l => l, StringComparer.Ordinal).ToList();
        if (classes.Distinct(StringComparer.Ordinal).Count() != classes.Count)
            throw new ArgumentException($"The class list has duplicates: {string.Join(", ", classes)}.", nameof(classOrder));
        if (classes.Count < 2)
            throw new InvalidDataException($"The training set has {classes.Count} class{(classes.Count == 1 ? $" ('{classes[0]}')" : "es")}; a classifier needs at least two.");
        int size = options.ImageSize ?? SizeOfFirstImage(train, options);
        var data = new ImageDataLoaders(classes, new ImagePipeline(size, size, options.Resize), options, options.Seed ?? Random.Shared.Next())
        {
            IgnoredNonImageFiles = ignoredFiles,
        };
        data.Train = new ImageSplit("train", train.Select(t => t.Path).ToList(), train.Select(t => data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        data.Valid = new ImageSplit("valid", valid.Select(t => t.Path).ToList(), valid.Select(t => data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        if (test is not null)
            data.Test = new ImageSplit("test", test.Select(t => t.Path).ToList(), test.Select(t => t.Label is null ? -1 : data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        try
        {
            data.Decode(data.Train);
            data.Decode(data.Valid);
            if (data.Test is not null) data.Decode(data.Test);
        }
        catch
        {
            data.Dispose();
            throw;
        }
        return data;
    }

    /// <summary>
    /// The larger side of the first training image, when no size is set. With <see cref="BadImageHandling.Skip"/> an
    /// unreadable first image is passed over (the decoder will skip it too) rather than stopping the build.
    /// </summary>
    private static int SizeOfFirstImage(IReadOnlyList<(string Path, string Label)> train, ImageDataOptions options)
    {
        foreach (var (path, _) in train)
        {
            if (ImageDecoder.HeaderProblem(path, options.MaxImagePixels) is { } problem)
            {
                if (options.OnBadImage == BadImageHandling.Skip) continue;
                throw new InvalidDataException($"Could not read the size of image '{path}', which sets the image size when ImageDataOptions.ImageSize is not given: " +
                                               $"{problem}. Fix or remove the file, or set ImageDataOptions.OnBadImage = BadImageHandling.Skip to leave out unreadable images.");
            }
            using var codec = SKCodec.Create(path)
                ?? throw new InvalidDataException($"Could not read the size of image '{path}': the file changed while it was being read.");
            int side = Math.Max(codec.Info.Width, codec.Info.Height);
            if (side > ImagePipeline.MaxSide)
                throw new ArgumentException($"The training image '{path}', whose size sets the image size, is {codec.Info.Width}×{codec.Info.Height}; " +
                                            $"images are resized to at most {ImagePipeline.MaxSide} pixels a side. Set ImageDataOptions.ImageSize (e.g. 224).", nameof(options));
            return side;
        }
        throw new InvalidDataException($"None of the {train.Count} training images could be read (the first: '{train[0].Path}').");
    }
}
