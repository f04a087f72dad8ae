using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Runtime;
using static TorchSharp.torch;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data;

/// <summary>
/// A labelled image dataset ready for training: training, validation and (optionally) test splits, the class list,
/// the resize definition, batch size, normalization and augmentation — fastai's <c>ImageDataLoaders</c>. Every image
/// is checked before anything is decoded or trained; unreadable files stop the build with an error naming them (or are
/// skipped, per <see cref="ImageDataOptions.OnBadImage"/>). Decoded images are kept in memory, in a disk cache, or not
/// at all (decoded every epoch), per <see cref="ImageDataOptions.Cache"/>; the choice is logged with its reason.
/// </summary>
/// <remarks>
/// Once built, reading the splits, classes, pipeline and settings is safe from several threads. Reconfiguring
/// (<see cref="Normalize"/>, <see cref="Augment"/>, <see cref="WithoutAugmentation"/>) is not, nor is
/// <see cref="TestSplit"/>, which checks and records new images (a learner calls it when it predicts files).
/// </remarks>
public sealed partial class ImageDataLoaders : IDisposable
{
    private readonly Dictionary<ImageSplit, PixelSet> _decoded = new();
    private readonly Dictionary<ImageSplit, ImageSplit> _survivors = new();
    private readonly List<BadImage> _skipped = new();
    private readonly List<string> _diskCaches = new();
    private readonly Dictionary<ImagePipeline, DatasetPool> _pools = new();

    /// <summary>
    /// What identifies every image of the training, validation and test splits (paths in ordinal order, or content
    /// hashes): the slots of the disk caches; null when the images cannot be recognised without decoding them.
    /// </summary>
    private IReadOnlyList<string>? _datasetImages = [];

    /// <summary>The key of the dataset's disk cache at a pipeline: its images (files' sizes and times, or contents) and their decoding.</summary>
    private Func<ImagePipeline, string> _datasetKey = _ => "";
    private readonly ImageDataOptions _options;
    private readonly CachePolicy _cache;
    private readonly Action<string> _log;
    private readonly DeviceCopyBudget _deviceBudget = new(DeviceCopyBudget.Default);

    /// <summary>Limits, workers, cancellation (the ML.NET estimator's fit cancellation; none for the public factories), and what was read.</summary>
    private ImageReading _reading;

    private ImageDataLoaders(IReadOnlyList<string> classes, ImagePipeline pipeline, ImageDataOptions options, int seed)
    {
        Classes = classes;
        Pipeline = pipeline;
        TrainPipeline = options.ItemSize is { } item
            // Crop's presized photos are stored whole, stretched smoothly to a square, so that each batch can take a square
            // of the photo's proportions anywhere across its longer side (fastai's random crop of the item).
            ? options.Resize == ResizeMethod.Pad ? new ImagePipeline(item, item, ResizeMethod.Pad) : ImagePipeline.TrainingStretch(item)
            : pipeline;
        _options = options;
        _cache = new CachePolicy(options);
        _log = options.Log ?? Console.WriteLine;
        _reading = new ImageReading(options.MaxImagePixels, options.DecodeWorkers ?? Environment.ProcessorCount, options.OnBadImage, default);
        Seed = seed;
        Normalization = options.Normalization;
        Augmentation = options.Augmentation;
        Train = Valid = null!;
    }

    /// <summary>Where the loaders and what uses them report choices and figures (<see cref="ImageDataOptions.Log"/>).</summary>
    internal void Log(string line) => _log(line);

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

    /// <summary>
    /// How each file becomes the model's input pixels: the definition the saved ML.NET model applies, and the one
    /// validation and test images go through.
    /// </summary>
    public ImagePipeline Pipeline { get; }

    /// <summary>
    /// How training images are decoded: <see cref="Pipeline"/>, or with presizing (<see cref="ImageDataOptions.ItemSize"/>)
    /// a larger square (squished, so that a batch can still crop a square of the photo's own proportions).
    /// </summary>
    public ImagePipeline TrainPipeline { get; }

    /// <summary>Where each split's decoded images live (memory, disk or streaming), as the cache policy chose.</summary>
    public IReadOnlyDictionary<string, ImageCacheMode> CacheModes
    {
        get
        {
            lock (_decoded) return _decoded.ToDictionary(d => d.Key.Name, d => d.Value.Store.Mode);
        }
    }

    /// <summary>Training batch size.</summary>
    public int BatchSize => _options.BatchSize;

    /// <summary>Batch size for validation, test and predictions.</summary>
    public int ValidBatchSize => _options.ValidBatchSize ?? _options.BatchSize;

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

    /// <summary>The decoded images of a split of this dataset.</summary>
    internal PixelSet Decoded(ImageSplit split)
    {
        var survivor = SplitFor(split);
        lock (_decoded) return _decoded[survivor];
    }

    /// <summary>
    /// The split as decoded: the same object, or a copy without the images that could not be decoded (so that its
    /// paths line up with the decoded images). Decodes on first use.
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
    /// Frees the decoded images of a split made by <see cref="TestSplit"/>, so that one-off predictions do not keep
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

    /// <summary>Number of splits whose decoded images are held.</summary>
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
            normalization, training ? Augmentation : null, Seed, GeometryFor(split, randomized: training), _options.PrefetchBatches, _options.DecodeWorkers);

    /// <summary>An in-order loader over a split with explicit augmentation (test-time augmentation, show_batch).</summary>
    internal BatchLoader OrderedLoader(ImageSplit split, Device device, NormalizationStats normalization, AugmentationOptions? augmentation, int seed, int? batchSize = null) =>
        new(Decoded(split), batchSize ?? ValidBatchSize, shuffle: false, dropLast: false, device, normalization, augmentation, seed,
            GeometryFor(split, randomized: augmentation is not null, augmentation), _options.PrefetchBatches, _options.DecodeWorkers);

    /// <summary>
    /// The crop that brings a split's stored images to the model's size: for training images stored presized, or when
    /// the augmentation asks for random resized crops; null when the stored images are already what the model sees.
    /// </summary>
    private BatchGeometry? GeometryFor(ImageSplit split, bool randomized, AugmentationOptions? augmentation = null)
    {
        bool presized = ReferenceEquals(SplitFor(split), Train) && TrainPipeline != Pipeline;
        float minScale = randomized ? (augmentation ?? Augmentation)?.MinScale ?? 1f : 1f;
        if (!presized && minScale >= 1f) return null;
        var geometry = new BatchGeometry(Pipeline.Width, minScale, CropItems: presized && _options.Resize == ResizeMethod.Crop, Centered: false);
        return randomized ? geometry : geometry.AsCentered();
    }

    private ImageSplit Decode(ImageSplit split)
    {
        var source = split.Source;
        var pipeline = ReferenceEquals(split, Train) ? TrainPipeline : Pipeline;
        // One-off splits (a learner's Predict) never go to disk, where each call would leave a file, nor count against
        // the budget of the splits the loaders keep.
        bool named = ReferenceEquals(split, Train) || ReferenceEquals(split, Valid) || ReferenceEquals(split, Test);
        if (!named && pipeline.Resize == ResizeMethod.Squish)
            pipeline.RefuseStretching(source.Headers(_reading).Select((h, i) => (h, i)).Where(h => h.h.IsUsable).Select(h => (source.Quote(h.i), h.h.Width, h.h.Height)),
                "The images to predict", "This model was trained with ResizeMethod.Squish: crop or pad the images to square proportions first, or train with Crop or Pad.");
        var (mode, reason) = named ? _cache.Choose(split.Name, split.Count, pipeline, () => DiskCacheHolds(split, pipeline)) : _cache.ChooseForOneOff(split.Count, pipeline);
        var started = System.Diagnostics.Stopwatch.StartNew();

        BuiltStore built;
        string file = "";
        var pool = mode == ImageCacheMode.Disk ? PoolOf(pipeline) : null;
        switch (mode)
        {
            case ImageCacheMode.Memory:
                built = PixelStoreBuilder.ToMemory(source, source.Headers(_reading), pipeline, split.Name, _reading);
                break;
            case ImageCacheMode.Disk when pool is null:
                file = Path.Combine(_cache.Folder, $"{split.Name}-column-{Guid.NewGuid():N}.pixels");
                built = ForThisFit(split, pipeline, file);
                break;
            case ImageCacheMode.Disk:
                file = pool.File;
                try
                {
                    built = PixelStoreBuilder.ToDisk(source, pool.SlotsOf(split), () => source.Headers(_reading), pipeline, split.Name, pool.File, pool.Key,
                        pool.Images.Count, slot => pool.Images[(int)slot], _reading, _log);
                }
                catch (ImageCacheUnavailableException e) when (_options.Cache == ImageCacheMode.Auto && source.CanStream)
                {
                    // Auto chose the disk; a cache this process cannot add to, or a disk filled meanwhile, leaves streaming.
                    mode = ImageCacheMode.Stream;
                    reason += $"; the disk cache could not take them ({e.Message}) so they are decoded every epoch";
                    built = Streamed(split, pipeline);
                    break;
                }
                if (built.Reused) CacheFiles.Touch(file);
                lock (_diskCaches) _diskCaches.Add(file);
                break;
            default:
                built = Streamed(split, pipeline);
                break;
        }
        var survivor = built.Kept.Length == split.Count ? split : split.Subset(built.Kept);
        var set = new PixelSet(built.Store, survivor.LabelIndices.Select(l => (long)l).ToArray(), built.SourceSizes);
        lock (_decoded)
        {
            _skipped.AddRange(built.Failed);
            set.DeviceBudget = _deviceBudget;
            _decoded[survivor] = set;
            _survivors[split] = survivor;
        }
        if (ReferenceEquals(split, Train)) Train = survivor;
        else if (ReferenceEquals(split, Valid)) Valid = survivor;
        else if (ReferenceEquals(split, Test)) Test = survivor;
        string decoded = $"decoded in {started.Elapsed.TotalSeconds:0.0} s";
        string where = mode switch
        {
            ImageCacheMode.Memory => $"in memory ({decoded})",
            ImageCacheMode.Disk when _datasetImages is null => $"in a disk cache for this fit only ({file}; {decoded}; loaded images cannot be recognised " +
                                                               "without decoding them, so it is not reused)",
            ImageCacheMode.Disk => $"in the disk cache {file} " + (built.Reused ? "(reused)"
                : built.Kept.Length > built.Decoded ? $"({decoded}: {built.Decoded:N0} images new to it, {built.Kept.Length - built.Decoded:N0} read from it)"
                : $"({decoded})"),
            _ => "streamed: decoded every epoch",
        };
        // One-off splits (a learner's Predict) are not worth a line each.
        if (named) _log($"{Capitalized(split.Name)} images{source.Description}: {where}; {reason}." +
                        (built.Failed.Count > 0 ? $" {built.Failed.Count} unreadable image(s) left out." : ""));
        return survivor;
    }

    /// <summary>
    /// A split's images in a disk file of their own, deleted when its store closes: images that nothing identifies
    /// short of decoding them (loaded images) could not be found by a later fit in the dataset's cache.
    /// </summary>
    private BuiltStore ForThisFit(ImageSplit split, ImagePipeline pipeline, string file)
    {
        var source = split.Source;
        var headers = source.Headers(_reading);
        using var writer = new DiskSplitWriter(file, headers.Select(h => h.SizeOr(pipeline)).ToArray(), pipeline, slot => source.NameOf((int)slot), _log);
        return PixelStoreBuilder.Into(writer, source, headers, pipeline, split.Name, _reading);
    }

    /// <summary>The forced cache mode's checks over every split at once, so that no split is decoded before a later one is refused.</summary>
    private void RefuseCachesThatCannotFit()
    {
        var splits = new[] { Train, Valid, Test }.Where(s => s is { Count: > 0 }).Select(s =>
        {
            var pipeline = ReferenceEquals(s, Train) ? TrainPipeline : Pipeline;
            return (s!.Name, (long)s.Count, pipeline, (Func<bool>)(() => DiskCacheHolds(s, pipeline)));
        }).ToList();
        _cache.RefuseUpfront(splits);
    }

    /// <summary>Whether the dataset's disk cache at <paramref name="pipeline"/> already holds every image of <paramref name="split"/>.</summary>
    private bool DiskCacheHolds(ImageSplit split, ImagePipeline pipeline) =>
        PoolOf(pipeline) is { } pool && PixelPool.Covers(pool.File, pool.Key, pool.Images.Count, pool.SlotsOf(split));

    /// <summary>
    /// The dataset's disk cache at a pipeline: one file for the images of every split (in the order of what identifies
    /// them), keyed by all of them, so that another split of the same images — a new random validation split — finds
    /// them there. None when the images cannot be recognised without decoding them.
    /// </summary>
    private DatasetPool? PoolOf(ImagePipeline pipeline)
    {
        if (_datasetImages is null) return null;
        lock (_pools)
        {
            if (_pools.TryGetValue(pipeline, out var pool)) return pool;
            string key = _datasetKey(pipeline);
            return _pools[pipeline] = new DatasetPool(Path.Combine(_cache.Folder, PixelPool.FileName(key)), key, _datasetImages);
        }
    }

    /// <summary>A dataset's disk cache file at one pipeline, its key, and what identifies the image of each slot.</summary>
    private sealed class DatasetPool(string file, string key, IReadOnlyList<string> images)
    {
        private readonly Dictionary<string, long> _slots = images.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => (long)x.i, StringComparer.Ordinal);

        public string File => file;

        public string Key => key;

        public IReadOnlyList<string> Images => images;

        public long[] SlotsOf(ImageSplit split) => Enumerable.Range(0, split.Count).Select(i => _slots[split.Source.CacheIdentity(i)!]).ToArray();
    }

    private static string Capitalized(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..];

    /// <summary>A streaming store over the files whose checks pass; with Fail, the first that does not is refused by name.</summary>
    private BuiltStore Streamed(ImageSplit split, ImagePipeline pipeline)
    {
        var files = (FileImages)split.Source;
        var headers = files.Headers(_reading);
        var failed = Enumerable.Range(0, split.Count).Where(i => !headers[i].IsUsable).ToList();
        if (failed.Count > 0 && _options.OnBadImage == BadImageHandling.Fail)
            throw BadImage.Refusal(files.Subject(failed[0], split.Name), headers[failed[0]].Problem!);
        PixelStoreBuilder.RefuseAllFailed(files, failed.Select(i => (i, headers[i].Problem!)).ToList(), split.Name);
        var kept = Enumerable.Range(0, split.Count).Where(i => headers[i].IsUsable).ToArray();
        var store = new StreamingPixelStore(kept.Select(i => files.Paths[i]).ToList(), _reading.DecoderFor(pipeline), split.Name);
        return new BuiltStore(store, kept, failed.Select(i => new BadImage(files.Paths[i], headers[i].Problem!)).ToList(),
            kept.Select(i => (headers[i].Width, headers[i].Height)).ToArray(), Reused: false);
    }

    private int IndexOfClass(string label, string path)
    {
        int index = Classes.ToList().IndexOf(label);
        if (index < 0)
            throw new InvalidDataException($"Image '{path}' is labelled '{label}', a class the training set does not have (classes: {string.Join(", ", Classes)}).");
        return index;
    }

    /// <summary>
    /// Frees the decoded images (and closes disk caches, which stay on disk for later runs). The loaders keep their
    /// classes, splits and settings: images from files are decoded again if they are used again.
    /// </summary>
    public void Dispose()
    {
        lock (_decoded)
        {
            foreach (var set in _decoded.Values) set.Dispose();
            _decoded.Clear();
            _survivors.Clear();
        }
    }

    /// <summary>
    /// Deletes the disk cache folder (<see cref="ImageDataOptions.CacheFolder"/>, by default <c>image-cache</c> in
    /// fastai's home) and everything in it; returns the bytes freed. Loaders using it must be disposed first.
    /// </summary>
    /// <param name="folder">The folder; null means the default.</param>
    public static long ClearCache(string? folder = null)
    {
        string path = Path.GetFullPath(folder ?? CachePolicy.DefaultFolder());
        if (!Directory.Exists(path)) return 0;
        long bytes = 0;
        foreach (var file in Directory.EnumerateFiles(path, "*.pixels*"))
        {
            bytes += new FileInfo(file).Length;
            File.Delete(file);
        }
        if (!Directory.EnumerateFileSystemEntries(path).Any()) Directory.Delete(path);
        return bytes;
    }

    /// <summary>Builds the loaders from labelled lists; every factory ends here.</summary>
    /// <remarks>
    /// <c>validationOptional</c> accepts an empty validation set (the ML.NET estimator's <c>ValidationFraction = 0</c>):
    /// a learner then trains without validating. The public factories keep refusing one.
    /// </remarks>
    internal static ImageDataLoaders FromItems(IReadOnlyList<(string Path, string Label)> train, IReadOnlyList<(string Path, string Label)> valid,
        IReadOnlyList<(string Path, string? Label)>? test, ImageDataOptions? options, int ignoredFiles = 0, IReadOnlyList<string>? classOrder = null,
        bool validationOptional = false, CancellationToken cancellation = default)
    {
        options ??= new ImageDataOptions();
        options.Validate();
        TorchRuntime.EnsureInitialized();
        if (train.Count == 0) throw new InvalidDataException("The training set is empty.");
        ImageFiles.RefuseDuplicates(train.Select(t => (t.Path, "training", (string?)t.Label)).Concat(valid.Select(v => (v.Path, "validation", (string?)v.Label)))
            .Concat(test?.Select(t => (t.Path, "test", t.Label)) ?? []));
        if (valid.Count == 0 && !validationOptional) throw new InvalidDataException("The validation set is empty.");
        var classes = classOrder?.ToList() ?? train.Select(t => t.Label).Distinct().OrderBy(l => l, StringComparer.Ordinal).ToList();
        if (classes.Distinct(StringComparer.Ordinal).Count() != classes.Count)
            throw new ArgumentException($"The class list has duplicates: {string.Join(", ", classes)}.", nameof(classOrder));
        if (classes.Count < 2)
            throw new InvalidDataException($"The training set has {classes.Count} class{(classes.Count == 1 ? $" ('{classes[0]}')" : "es")}; a classifier needs at least two.");
        // Squish's check needs every size too; reading headers decodes nothing, so refusals come before any work.
        var headers = options.ImageSize is null || options.Resize == ResizeMethod.Squish ? ScanForSize(train, valid, test, options) : null;
        int size = options.ImageSize ?? UniformSize(headers!, options);
        var pipeline = new ImagePipeline(size, size, options.Resize);
        options.RefuseBeforeDecoding?.Invoke(pipeline.Width, options.BatchSize);
        if (headers is not null)
            pipeline.RefuseStretching(headers.Where(h => h.Value.IsUsable).Select(h => ($"'{h.Key}'", h.Value.Width, h.Value.Height)), "The images");
        var data = new ImageDataLoaders(classes, pipeline, options, options.Seed ?? Random.Shared.Next())
        {
            IgnoredNonImageFiles = ignoredFiles,
            _reading = new ImageReading(options.MaxImagePixels, options.DecodeWorkers ?? Environment.ProcessorCount, options.OnBadImage, cancellation),
        };
        if (headers is not null) data._reading.Remember(headers);
        data.Train = new ImageSplit("train", train.Select(t => t.Path).ToList(), train.Select(t => data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        data.Valid = new ImageSplit("valid", valid.Select(t => t.Path).ToList(), valid.Select(t => data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        var datasetPaths = train.Select(t => t.Path).Concat(valid.Select(v => v.Path)).Concat(test?.Select(t => t.Path) ?? [])
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        data._datasetImages = datasetPaths;
        data._datasetKey = pipeline => PixelCacheKey.Compute(datasetPaths, pipeline, options.MaxImagePixels);
        if (test is not null)
            data.Test = new ImageSplit("test", test.Select(t => t.Path).ToList(), test.Select(t => t.Label is null ? -1 : data.IndexOfClass(t.Label, t.Path)).ToList(), classes);
        data.DecodeEverySplit();
        return data;
    }

    /// <summary>
    /// Decodes the splits up front, so that what cannot be read or cannot fit is refused before any training, and
    /// tidies the cache folder; the loaders are disposed if that fails.
    /// </summary>
    private void DecodeEverySplit()
    {
        try
        {
            RefuseCachesThatCannotFit();
            Decode(Train);
            if (Valid.Count > 0) Decode(Valid);
            else HoldNoPixels(Valid);
            if (Test is not null) Decode(Test);
            CacheFiles.Tidy(_cache.Folder, _options.CacheSizeLimit, _diskCaches, _log);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The headers of every file, read up front when the image size must come from the images.</summary>
    private static Dictionary<string, ImageHeader> ScanForSize(IReadOnlyList<(string Path, string Label)> train, IReadOnlyList<(string Path, string Label)> valid,
        IReadOnlyList<(string Path, string? Label)>? test, ImageDataOptions options)
    {
        var paths = train.Select(t => t.Path).Concat(valid.Select(v => v.Path)).Concat(test?.Select(t => t.Path) ?? []).Distinct().ToArray();
        var headers = ImageHeaders.Scan(paths, options.MaxImagePixels, options.DecodeWorkers ?? Environment.ProcessorCount);
        return paths.Zip(headers).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
    }

    /// <summary>
    /// The image size when none is set: every readable image must have the same size, whose longer side then sets a
    /// square (fastai refuses mixed sizes too; its tutorials always resize). Photos of mixed sizes are refused with a
    /// message naming the option, rather than decoded at full resolution.
    /// </summary>
    private static int UniformSize(Dictionary<string, ImageHeader> headers, ImageDataOptions options)
    {
        var usable = headers.Where(h => h.Value.IsUsable).ToList();
        if (usable.Count == 0)
        {
            var unreadable = headers.First();
            throw new InvalidDataException($"None of the {headers.Count} images could be read (the first: '{unreadable.Key}': {unreadable.Value.Problem}).");
        }
        if (options.OnBadImage == BadImageHandling.Fail && headers.FirstOrDefault(h => !h.Value.IsUsable) is { Key: not null } bad)
            throw BadImage.Refusal($"'{bad.Key}'", bad.Value.Problem!);
        return ImagePipeline.UniformSide(usable.Select(h => ($"'{h.Key}'", h.Value.Width, h.Value.Height)).ToList(), "The images",
            $"fastai's usual is 224; for photos, presize with {OptionKey.ItemSize} 460 and {OptionKey.ImageSize} 224");
    }
}
