using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// Builds the training data from images in an ML.NET column — loaded images (<c>MLImage</c>) or encoded bytes —
/// which have no files for the data path to decode. Each image goes once through the ImageAnalytics chain the model
/// scores with (ResizeImages, ExtractPixels; for bytes after <see cref="EncodedImageDecoder"/>) into a memory store or a
/// disk cache, chosen per split by the data path's <see cref="CachePolicy"/>. Rows are read in order by ML.NET cursors
/// and written as they come, so no more than the cursor's current image is held. Streaming (decoding every epoch) is
/// not offered: a view has no random access to its rows, which shuffled batches need.
/// </summary>
internal sealed class ColumnImageLoader(MLContext context, string imageColumn, ImageColumnKind kind, string labelColumn,
    IReadOnlyList<string> classes, FitCancellation cancellation)
{
    private const string TrainPixels = "__FastAiTrainPixels";
    private const string ValidPixels = "__FastAiValidPixels";

    /// <summary>The disk caches of encoded bytes open for this load, one per pipeline, held until the splits are built.</summary>
    private readonly Dictionary<ImagePipeline, BytesPool> _pools = new();

    /// <summary>
    /// The loaders for <paramref name="training"/> and either <paramref name="validation"/>, or a seeded
    /// <paramref name="validationFraction"/> of the training rows (none when 0).
    /// </summary>
    public ImageDataLoaders Load(IDataView training, IDataView? validation, double validationFraction, ImageDataOptions options)
    {
        options = options with { CanStream = false };
        var seed = options.Seed ?? throw new ArgumentException("The seed must be decided before loading.", nameof(options));
        int? declared = kind == ImageColumnKind.Image ? InputSchema.DeclaredImageSide(training.Schema, imageColumn) : null;
        bool declaredSquare = kind == ImageColumnKind.Image && training.Schema[imageColumn].Type is ImageDataViewType { Height: > 0 } image && image.Height == image.Width;
        bool readSizes = options.ImageSize is null && declared is null || options.ItemSize is not null || options.Resize == ResizeMethod.Squish && !declaredSquare;
        if (kind == ImageColumnKind.Image && readSizes)
            (options.Log ?? (_ => { }))($"Reading every image of column '{imageColumn}' once for its size, before decoding (set ImageSize to skip this pass).");
        var scans = new List<ColumnRowScan> { Scan(training, "training data", readSizes, options) };
        if (validation is not null) scans.Add(Scan(validation, "validation data", readSizes, options));
        RefuseBadRows(scans, options.OnBadImage);
        int side = options.ImageSize ?? declared ?? UniformSide(scans);
        options.RefuseBeforeDecoding?.Invoke(side, options.BatchSize);
        if (readSizes)
            new ImagePipeline(side, side, options.Resize).RefuseStretching(
                scans.SelectMany(s => Enumerable.Range(0, s.Count).Where(r => s.Problems[r] is null).Select(r => (s.RowName(r), s.Sizes[r].Width, s.Sizes[r].Height))),
                $"FastAiCnn: the images in column '{imageColumn}'");

        var data = ImageDataLoaders.ForPrebuiltPixels(classes, side, options);
        var splits = new List<Split>();
        try
        {
            var plan = ColumnSplitPlan.Make(scans, validation is not null, validationFraction, seed);
            splits.Add(BuildSplit("train", plan.Train, data.TrainPipeline, data, scans));
            splits.Add(BuildSplit("valid", plan.Valid, data.Pipeline, data, scans));
            Decode(new[] { training, validation }, scans, plan, splits, data);
            Attach(data, scans, splits[0], splits[1]);
            return data;
        }
        catch
        {
            // Until attached, the stores and half-written caches are this loader's to free.
            foreach (var split in splits) split.Dispose();
            data.Dispose();
            throw;
        }
        finally
        {
            foreach (var pool in _pools.Values) pool.Opened?.Dispose();
            _pools.Clear();
        }
    }

    private ColumnRowScan Scan(IDataView view, string what, bool readSizes, ImageDataOptions options) =>
        ColumnRowScan.Read(view, what, imageColumn, kind, labelColumn, classes, readSizes, options.MaxImagePixels, cancellation);

    /// <summary>With <see cref="BadImageHandling.Fail"/>, the first row whose image cannot be used is refused by name.</summary>
    private void RefuseBadRows(IEnumerable<ColumnRowScan> scans, BadImageHandling onBadImage)
    {
        foreach (var scan in scans)
        {
            int row = Array.FindIndex(scan.Problems, p => p is not null);
            if (row >= 0 && onBadImage == BadImageHandling.Fail) throw BadRow(scan.RowName(row), scan.Problems[row]!);
            if (row >= 0 && scan.Problems.All(p => p is not null))
                throw new InvalidDataException($"FastAiCnn: none of the {scan.Count} images in column '{imageColumn}' of the {scan.What} can be used; {scan.RowName(row)}: {scan.Problems[row]}.");
        }
    }

    private InvalidDataException BadRow(string row, string reason) => BadImage.Refusal($"in {row} (column '{imageColumn}')", reason);

    /// <summary>The side when none is set and the column does not declare one: every usable image must share one size, as for files.</summary>
    private int UniformSide(IEnumerable<ColumnRowScan> scans)
    {
        var usable = scans.SelectMany(s => Enumerable.Range(0, s.Count).Where(r => s.Problems[r] is null)
            .Select(r => (s.RowName(r), s.Sizes[r].Width, s.Sizes[r].Height))).ToList();
        return ImagePipeline.UniformSide(usable, $"FastAiCnn: the images in column '{imageColumn}'", $"fastai's usual is 224");
    }

    /// <summary>One split being built: its rows (view, row) in order, its store or writer, and how that was decided.</summary>
    private sealed class Split(string name, IReadOnlyList<(int View, int Row)> rows, ImagePipeline pipeline) : IDisposable
    {
        public string Name => name;
        public IReadOnlyList<(int View, int Row)> Rows => rows;
        public ImagePipeline Pipeline => pipeline;
        public SplitPixelWriter? Writer;
        public SplitPixels? Built;
        /// <summary>Positions a disk cache already holds: not decoded again (null: decode every position).</summary>
        public bool[]? Settled;
        public bool Attached;
        public string Where = "";
        public string Reason = "";
        public Stopwatch Clock = new();

        public void Dispose()
        {
            Writer?.Dispose();
            if (!Attached) Built?.Store.Dispose();
        }
    }

    /// <summary>Decides where a split's pixels go, reusing a disk cache of the same bytes when there is one.</summary>
    private Split BuildSplit(string name, IReadOnlyList<(int View, int Row)> rows, ImagePipeline pipeline, ImageDataLoaders data, IReadOnlyList<ColumnRowScan> scans)
    {
        var split = new Split(name, rows, pipeline);
        if (rows.Count == 0)
        {
            using var none = new MemorySplitWriter(0, pipeline);
            split.Built = none.Finish();
            return split;
        }
        bool keyed = kind == ImageColumnKind.EncodedBytes;
        var pool = keyed ? PoolFor(pipeline, scans, data) : null;
        long[]? slots = pool is null ? null : rows.Select(r => pool.SlotOf[scans[r.View].Hashes![r.Row]]).ToArray();
        var (mode, reason) = data.CachePolicy.Choose(name, rows.Count, pipeline,
            () => pool is not null && PixelPool.Covers(pool.File, pool.Key, pool.SlotCount, slots!));
        split.Reason = reason;
        switch (mode)
        {
            case ImageCacheMode.Memory:
                split.Writer = new MemorySplitWriter(rows.Count, pipeline);
                split.Where = "in memory";
                break;
            case ImageCacheMode.Disk when pool is not null:
                var open = pool.Open(data, cancellation.Token);
                if (data.DataOptions.OnBadImage == BadImageHandling.Fail && open.FirstRecordedFailure(slots!) is var (position, recorded))
                    throw BadRow(scans[rows[position].View].RowName(rows[position].Row), recorded);
                var writer = new PoolSplitWriter(open, slots!, SizesOf(rows, scans, pipeline), slot => pool.NameOf[(int)slot]);
                if (writer.Settled.All(s => s))
                {
                    split.Built = writer.Finish();
                    split.Where = $"in the disk cache {pool.File} (reused)";
                }
                else
                {
                    split.Writer = writer;
                    split.Settled = writer.Settled;
                    split.Where = $"in the disk cache {pool.File}";
                }
                break;
            case ImageCacheMode.Disk:
                string path = Path.Combine(data.CachePolicy.Folder, $"{name}-column-{Guid.NewGuid():N}.pixels");
                split.Writer = new DiskSplitWriter(path, SizesOf(rows, scans, pipeline), pipeline, slot => scans[rows[(int)slot].View].RowName(rows[(int)slot].Row), data.LogLine);
                split.Where = $"in a disk cache for this fit only ({path}; loaded images cannot be recognised without decoding them, so it is not reused)";
                break;
            default:
                throw new OptionException(OptionKey.CacheFolder, data.CachePolicy.Folder,
                    OptionText.Concat($"FastAiCnn: the {name} images of column '{imageColumn}' fit neither in memory nor in the disk cache's folder ({reason}), and images ",
                    $"from an ML.NET column cannot be streamed (a view has no random access to its rows). Set {OptionKey.CacheFolder} to a folder ",
                    $"on a larger disk, or a smaller {OptionKey.ImageSize}/{OptionKey.ItemSize}."));
        }
        return split;
    }

    /// <summary>
    /// The disk cache of encoded bytes at a pipeline: one file for every row of the training and validation data, its
    /// slots the distinct images by content (their hashes, in order), so another split of the same rows — a new random
    /// validation split — finds its images there. Keyed by those hashes, the resize definition and the decoder.
    /// </summary>
    private BytesPool PoolFor(ImagePipeline pipeline, IReadOnlyList<ColumnRowScan> scans, ImageDataLoaders data)
    {
        if (_pools.TryGetValue(pipeline, out var pool)) return pool;
        var names = new SortedDictionary<ulong, string>();
        foreach (var scan in scans)
            for (int row = 0; row < scan.Count; row++)
                names.TryAdd(scan.Hashes![row], scan.RowName(row));
        string key = PixelCacheKey.ForContents(names.Keys, pipeline, data.DataOptions.MaxImagePixels);
        return _pools[pipeline] = new BytesPool(Path.Combine(data.CachePolicy.Folder, PixelPool.FileName(key)), key, pipeline,
            names.Keys.Select((h, i) => (h, (long)i)).ToDictionary(x => x.h, x => x.Item2), names.Values.ToList());
    }

    /// <summary>A bytes cache file, its key, each content hash's slot and each slot's name; opened once, on first need.</summary>
    private sealed class BytesPool(string file, string key, ImagePipeline pipeline, Dictionary<ulong, long> slotOf, IReadOnlyList<string> nameOf)
    {
        public string File => file;
        public string Key => key;
        public Dictionary<ulong, long> SlotOf => slotOf;
        public IReadOnlyList<string> NameOf => nameOf;
        public long SlotCount => nameOf.Count;
        public PixelPool? Opened;

        /// <summary>Opens the file (under its lock unless it holds every image already), once for all splits.</summary>
        public PixelPool Open(ImageDataLoaders data, CancellationToken cancellation) =>
            Opened ??= PixelPool.Open(file, key, SlotCount, Enumerable.Range(0, nameOf.Count).Select(i => (long)i).ToList(), pipeline, data.LogLine, cancellation, canStream: false);
    }

    private static (int, int)[] SizesOf(IReadOnlyList<(int View, int Row)> rows, IReadOnlyList<ColumnRowScan> scans, ImagePipeline pipeline) =>
        rows.Select(r => scans[r.View].Sizes[r.Row] is var (w, h) && w > 0 ? (w, h) : (pipeline.Width, pipeline.Height)).ToArray();

    /// <summary>
    /// The second pass: every row that needs pixels goes through the ImageAnalytics chain of its split and into its
    /// writer. Rows of splits already built (an empty split, a reused cache) are not decoded.
    /// </summary>
    private void Decode(IReadOnlyList<IDataView?> views, IReadOnlyList<ColumnRowScan> scans, ColumnSplitPlan plan, IReadOnlyList<Split> splits, ImageDataLoaders data)
    {
        foreach (var split in splits.Where(s => s.Writer is not null))
        {
            split.Clock.Start();
            for (int p = 0; p < split.Rows.Count; p++)
                if (split.Settled?[p] != true && scans[split.Rows[p].View].Problems[split.Rows[p].Row] is { } problem) split.Writer!.Fail(p, problem);
        }
        for (int v = 0; v < views.Count; v++)
        {
            if (views[v] is not { } view) continue;
            var targets = plan.Targets[v];
            bool[] decode = Enumerable.Range(0, splits.Count).Select(s => splits[s].Writer is not null && targets.Any(t => t.Split == s)).ToArray();
            if (!decode.Any(d => d)) continue;
            DecodeView(view, scans[v], targets, splits, decode, data.DataOptions.MaxImagePixels, data.DataOptions.OnBadImage);
        }
        foreach (var split in splits.Where(s => s.Writer is not null))
        {
            split.Built = split.Writer!.Finish();
            split.Writer.Dispose();
            split.Writer = null;
            split.Clock.Stop();
            if (split.Built.Kept.Length == 0)
            {
                var (position, reason) = split.Built.Failed[0];
                throw new InvalidDataException($"FastAiCnn: none of the {split.Rows.Count} images of the {split.Name} set in column '{imageColumn}' could be decoded; " +
                    $"the first, {scans[split.Rows[position].View].RowName(split.Rows[position].Row)}: {reason}.");
            }
        }
    }

    private void DecodeView(IDataView view, ColumnRowScan scan, (int Split, int Position)[] targets, IReadOnlyList<Split> splits, bool[] decode,
        long maxPixels, BadImageHandling onBadImage)
    {
        // The decoding chain runs as a row-to-row mapper over a plain cursor of the data, not as transformed views:
        // a view's cursor splits rows across threads when the machine has several cores, and its workers then call
        // every getter of every row (both splits' pipelines, and rows the scan already found unreadable), wrapping a
        // bad image's error in their own. The mapper computes a getter only when it is called, on this thread.
        var steps = new List<ITransformer>();
        // Fitting reads no rows: these estimators only check the schema of the (lazily) transformed view.
        var transformed = view;
        string column = imageColumn;
        if (kind == ImageColumnKind.EncodedBytes)
        {
            steps.Add(new EncodedImageDecoder(imageColumn, maxPixels));
            transformed = steps[^1].Transform(transformed);
            column = EncodedImageDecoder.DecodedColumn;
        }
        var pixelColumns = new string[splits.Count];
        for (int s = 0; s < splits.Count; s++)
        {
            if (!decode[s] || splits[s].Pipeline.IsTrainingStretch) continue;
            pixelColumns[s] = s == 0 ? TrainPixels : ValidPixels;
            var fitted = splits[s].Pipeline.BuildEstimator(context, column, imageColumnIsPath: false, pixelColumns[s], asFloat: false).Fit(transformed);
            steps.Add(fitted);
            transformed = fitted.Transform(transformed);
        }
        var mapper = ((ITransformer)new TransformerChain<ITransformer>(steps.ToArray())).GetRowToRowMapper(view.Schema);
        bool stretches = Enumerable.Range(0, splits.Count).Any(s => decode[s] && splits[s].Pipeline.IsTrainingStretch);
        var active = pixelColumns.Where(c => c is not null).Select(c => mapper.OutputSchema[c]).Append(mapper.OutputSchema[labelColumn])
            .Concat(stretches ? [mapper.OutputSchema[column]] : []).ToList();
        using var cursor = view.GetRowCursor(mapper.GetDependencies(active));
        using var mapped = mapper.GetRow(cursor, active);
        // Only the getter of a row's own split is called, so each image is decoded once.
        var getters = Enumerable.Range(0, splits.Count).Select(s => !decode[s] ? null
            : splits[s].Pipeline.IsTrainingStretch ? Stretched(mapped.GetGetter<MLImage>(mapper.OutputSchema[column]), splits[s].Pipeline)
            : mapped.GetGetter<VBuffer<byte>>(mapper.OutputSchema[pixelColumns[s]])).ToArray();
        var getLabel = mapped.GetGetter<uint>(mapper.OutputSchema[labelColumn]);
        var buffer = default(VBuffer<byte>);
        uint key = 0;
        for (int row = 0; cursor.MoveNext(); row++)
        {
            cancellation.ThrowIfCancellationRequested();
            // Pixels are matched to the first pass's labels by row number: a view that reorders its rows between
            // passes (a custom or database-backed loader) would pair images with the wrong labels.
            getLabel(ref key);
            if (row >= scan.Count || key != scan.Keys[row])
                throw new InvalidDataException($"FastAiCnn: the {scan.What} gave its rows in another order (or other rows) on a second pass: " +
                    $"{scan.RowName(row)} is labelled differently than before. Give the trainer a view that reads the same rows in the same order " +
                    "every time (e.g. cache it with mlContext.Data.Cache).");
            var (s, position) = targets[row];
            if (s < 0 || !decode[s] || scan.Problems[row] is not null || splits[s].Settled?[position] == true) continue;
            var writer = splits[s].Writer!;
            string? problem = null;
            try
            {
                getters[s]!(ref buffer);
                if (buffer.Length != splits[s].Pipeline.PixelCount) problem = "the row holds no image";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                problem = e.GetBaseException().Message;
            }
            if (problem is not null)
            {
                if (onBadImage == BadImageHandling.Fail) throw BadRow(scan.RowName(row), problem);
                writer.Fail(position, problem);
                continue;
            }
            if (buffer.IsDense) writer.Write(position, buffer.GetValues());
            else writer.Write(position, buffer.DenseValues().ToArray());
        }
    }

    /// <summary>The pixels of a row's image stretched smoothly (presizing's training store), as a getter of pixel vectors.</summary>
    /// <remarks>
    /// The image is handed back to the getter on the next row, never freed here: an in-memory view hands out the
    /// caller's own images, and a decoding step (LoadImages, the bytes decoder) frees its previous one itself.
    /// </remarks>
    private static ValueGetter<VBuffer<byte>> Stretched(ValueGetter<MLImage> getImage, ImagePipeline pipeline)
    {
        MLImage? image = null;
        return (ref VBuffer<byte> pixels) =>
        {
            getImage(ref image!);
            var values = new byte[pipeline.PixelCount];
            SmoothStretch.ToPlanarRgb(image, pipeline, values);
            pixels = new VBuffer<byte>(values.Length, values);
        };
    }

    /// <summary>Hands the built splits to the loaders, with their rows as items, and logs where each went and why.</summary>
    private void Attach(ImageDataLoaders data, IReadOnlyList<ColumnRowScan> scans, Split train, Split valid)
    {
        var sets = new List<(ImageSplit, PixelSet)>();
        var skipped = new List<BadImage>();
        foreach (var split in new[] { train, valid })
        {
            var built = split.Built!;
            var names = built.Kept.Select(p => scans[split.Rows[p].View].RowName(split.Rows[p].Row)).ToList();
            var labels = built.Kept.Select(p => (int)scans[split.Rows[p].View].Keys[split.Rows[p].Row] - 1).ToList();
            var sizes = SizesOf(built.Kept.Select(p => split.Rows[p]).ToList(), scans, split.Pipeline);
            sets.Add((new ImageSplit(split.Name, names, labels, classes), new PixelSet(built.Store, labels.Select(l => (long)l).ToArray(), sizes)));
            skipped.AddRange(built.Failed.Select(f => new BadImage(scans[split.Rows[f.Position].View].RowName(split.Rows[f.Position].Row), f.Reason)));
            if (split.Rows.Count == 0) continue;
            data.LogLine($"{(split.Name == "train" ? "Training" : "Validation")} images (column '{imageColumn}', {InputSchema.Describe(kind)}): {split.Where}" +
                (built.Reused ? "" : $", decoded in {split.Clock.Elapsed.TotalSeconds:0.0} s") + $"; {split.Reason}." +
                (built.Failed.Count > 0 ? $" {built.Failed.Count} unreadable image(s) left out." : ""));
        }
        data.AttachPrebuilt(sets[0].Item1, sets[0].Item2, sets[1].Item1, sets[1].Item2, skipped);
        train.Attached = valid.Attached = true;
    }
}
