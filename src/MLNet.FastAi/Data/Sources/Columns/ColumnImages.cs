using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources.Columns;

/// <summary>The column of an ML.NET view that holds images, and how its rows are named ("training data": "row 4 of the training data").</summary>
/// <param name="View">The view; lazy, so holding it holds no image.</param>
/// <param name="Column">The image column.</param>
/// <param name="Kind">Loaded images or encoded bytes.</param>
/// <param name="What">What the view is, for row names.</param>
internal sealed record ImageColumn(IDataView View, string Column, ImageColumnKind Kind, string What)
{
    public string RowName(int row) => $"row {row} of the {What}";
}

/// <summary>
/// Images in rows of an ML.NET column — loaded images (<c>MLImage</c>) or encoded bytes — named by their row. A view
/// has no random access to its rows, so decoding reads it once in order, through the ImageAnalytics chain the model
/// scores with (for bytes after <see cref="EncodedImageDecoder"/>), taking the split's rows as they pass. That can be
/// done again (a fitted model's learner decodes its validation rows again after they were released), but not every
/// epoch: these images are never streamed.
/// </summary>
/// <param name="column">The view and column.</param>
/// <param name="rows">The row of each image.</param>
/// <param name="scan">The first pass over the view (labels, sizes, problems, hashes of bytes); null for images only shown.</param>
/// <param name="context">Fits the decoding chain; null for images only shown.</param>
/// <param name="labelColumn">The key label column the scan read, checked again while decoding; null for images only shown.</param>
internal sealed class ColumnImages(ImageColumn column, IReadOnlyList<int> rows, ColumnRowScan? scan = null, MLContext? context = null, string? labelColumn = null)
    : ImageSource
{
    private const string PixelsColumn = "__FastAiPixels";

    public override int Count => rows.Count;

    /// <summary>Loaded images or encoded bytes.</summary>
    public ImageColumnKind Kind => column.Kind;

    public override string NameOf(int position) => column.RowName(rows[position]);

    public override string Quote(int position) => $"{NameOf(position)} (column '{column.Column}')";

    public override string Subject(int position, string splitName) => $"in {Quote(position)}";

    public override string Description => $" (column '{column.Column}', {column.Kind.Describe()})";

    public override bool CanStream => false;

    public override string? CacheIdentity(int position) =>
        column.Kind == ImageColumnKind.EncodedBytes && scan?.Hashes is { } hashes ? $"xxh3:{hashes[rows[position]]:x16}" : null;

    /// <summary>The content hash of each image (encoded bytes only), what the disk cache's key is made of.</summary>
    public IEnumerable<ulong> ContentHashes => Enumerable.Range(0, Count).Select(p => Scan.Hashes![rows[p]]);

    public override ImageSource Subset(IReadOnlyList<int> positions) => new ColumnImages(column, positions.Select(p => rows[p]).ToList(), scan, context, labelColumn);

    public override ImageHeader[] Headers(ImageReading reading) =>
        rows.Select(r => new ImageHeader(Scan.Sizes[r].Width, Scan.Sizes[r].Height, Scan.Problems[r])).ToArray();

    private ColumnRowScan Scan => scan ?? throw new InvalidOperationException($"The images of column '{column.Column}' were given only to be shown.");

    public override void Decode(IReadOnlyList<int> positions, ImageHeader[] headers, ImagePipeline pipeline, IPixelSink sink, string splitName, ImageReading reading)
    {
        var scan = Scan;
        var target = new Dictionary<int, int>();
        for (int k = 0; k < positions.Count; k++)
        {
            if (headers[positions[k]].Problem is { } problem)
            {
                if (reading.OnBadImage == BadImageHandling.Fail) throw BadImage.Refusal(Subject(positions[k], splitName), problem);
                sink.Fail(k, problem);
            }
            else target[rows[positions[k]]] = k;
        }
        if (target.Count == 0) return;

        // The decoding chain runs as a row-to-row mapper over a plain cursor of the data, not as transformed views: a
        // view's cursor splits rows across threads when the machine has several cores, and its workers then call every
        // getter of every row (rows of other splits, rows the scan found unreadable), wrapping a bad image's error in
        // their own. The mapper computes a getter only when it is called, on this thread.
        var steps = new List<ITransformer>();
        // Fitting reads no rows: these estimators only check the schema of the (lazily) transformed view.
        var transformed = column.View;
        string images = column.Column;
        if (column.Kind == ImageColumnKind.EncodedBytes)
        {
            steps.Add(new EncodedImageDecoder(column.Column, reading.MaxPixels));
            transformed = steps[^1].Transform(transformed);
            images = EncodedImageDecoder.DecodedColumn;
        }
        if (!pipeline.IsTrainingStretch)
            steps.Add(pipeline.BuildEstimator(context ?? throw new InvalidOperationException("No ML.NET context to decode with."), images, imageColumnIsPath: false, PixelsColumn, asFloat: false)
                .Fit(transformed));
        var mapper = ((ITransformer)new TransformerChain<ITransformer>(steps.ToArray())).GetRowToRowMapper(column.View.Schema);
        var label = mapper.OutputSchema[labelColumn!];
        var output = mapper.OutputSchema[pipeline.IsTrainingStretch ? images : PixelsColumn];
        var active = new[] { output, label };
        using var cursor = column.View.GetRowCursor(mapper.GetDependencies(active));
        using var mapped = mapper.GetRow(cursor, active);
        var getPixels = pipeline.IsTrainingStretch ? Stretched(mapped.GetGetter<MLImage>(output), pipeline) : mapped.GetGetter<VBuffer<byte>>(output);
        var getLabel = mapped.GetGetter<uint>(label);
        var buffer = default(VBuffer<byte>);
        uint key = 0;
        for (int row = 0; cursor.MoveNext(); row++)
        {
            reading.ThrowIfCancelled();
            // Pixels are matched to the first pass's labels by row number: a view that reorders its rows between passes
            // (a custom or database-backed loader) would pair images with the wrong labels.
            getLabel(ref key);
            if (row >= scan.Count || key != scan.Keys[row])
                throw new InvalidDataException($"FastAiCnn: the {column.What} gave its rows in another order (or other rows) on another pass: " +
                    $"{column.RowName(row)} is labelled differently than before. Give the trainer a view that reads the same rows in the same order " +
                    "every time (e.g. cache it with mlContext.Data.Cache).");
            // Only the rows of this split are decoded.
            if (!target.TryGetValue(row, out int k)) continue;
            string? problem = null;
            try
            {
                getPixels(ref buffer);
                if (buffer.Length != pipeline.PixelCount) problem = "the row holds no image";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                problem = e.GetBaseException().Message;
            }
            if (problem is not null)
            {
                if (reading.OnBadImage == BadImageHandling.Fail) throw BadImage.Refusal(Subject(positions[k], splitName), problem);
                sink.Fail(k, problem);
                continue;
            }
            if (buffer.IsDense) sink.Write(k, buffer.GetValues());
            else sink.Write(k, buffer.DenseValues().ToArray());
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

    /// <summary>Reads the view once, copying the images of the wanted rows as they pass.</summary>
    public override IReadOnlyList<ShownImage> Show(IReadOnlyList<int> positions)
    {
        var wanted = positions.Select(p => rows[p]).ToHashSet();
        var found = new Dictionary<int, ShownImage>();
        var image = column.View.Schema[column.Column];
        using var cursor = column.View.GetRowCursor([image]);
        var getImage = column.Kind == ImageColumnKind.Image ? cursor.GetGetter<MLImage>(image) : null;
        var getBytes = column.Kind == ImageColumnKind.EncodedBytes ? cursor.GetGetter<VBuffer<byte>>(image) : null;
        // Handed back each time, so that an upstream LoadImages frees the previous image; never freed here (see Stretched).
        MLImage? loaded = null;
        var bytes = default(VBuffer<byte>);
        for (int row = 0; found.Count < wanted.Count && cursor.MoveNext(); row++)
        {
            if (!wanted.Contains(row)) continue;
            if (getBytes is not null)
            {
                getBytes(ref bytes);
                found[row] = new ShownImage(EncodedImageDecoder.Bytes(bytes), ShownImageFormat.Encoded);
                continue;
            }
            getImage!(ref loaded!);
            if (loaded is null || loaded.Width < 1) throw new InvalidDataException($"{column.RowName(row)} (column '{column.Column}') holds no image.");
            var format = loaded.PixelFormat == MLPixelFormat.Rgba32 ? ShownImageFormat.Rgba32 : ShownImageFormat.Bgra32;
            found[row] = new ShownImage(loaded.Pixels.ToArray(), format, loaded.Width, loaded.Height);
        }
        return positions.Select(p => found.TryGetValue(rows[p], out var shown) ? shown
            : throw new InvalidDataException($"The {column.What} has no {column.RowName(rows[p])} any more (column '{column.Column}'): it changed since it was read.")).ToList();
    }
}
