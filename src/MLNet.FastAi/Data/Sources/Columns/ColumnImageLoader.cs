using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources.Columns;

/// <summary>
/// Makes the training and validation splits of images in an ML.NET column — loaded images (<c>MLImage</c>) or encoded
/// bytes — and hands them to the data path (<see cref="ImageDataLoaders.FromColumn"/>), which decodes, caches and
/// reports them as it does files. What is particular to a view is here: the first pass over its rows (labels, and
/// sizes and hashes where they are cheap), the image size when none is set, and the split of its rows.
/// </summary>
/// <param name="context">Fits the decoding chains.</param>
/// <param name="imageColumn">The image column.</param>
/// <param name="kind">Loaded images or encoded bytes.</param>
/// <param name="labelColumn">The key label column.</param>
/// <param name="classes">The label key's values.</param>
/// <param name="throwIfCancelled">Throws once the fit is cancelled (the caller's token or the ML.NET host).</param>
/// <param name="cancellation">The fit's token.</param>
internal sealed class ColumnImageLoader(MLContext context, string imageColumn, ImageColumnKind kind, string labelColumn,
    IReadOnlyList<string> classes, Action throwIfCancelled, CancellationToken cancellation)
{
    /// <summary>
    /// The loaders for <paramref name="training"/> and either <paramref name="validation"/>, or a seeded
    /// <paramref name="validationFraction"/> of the training rows (none when 0).
    /// </summary>
    public ImageDataLoaders Load(IDataView training, IDataView? validation, double validationFraction, ImageDataOptions options)
    {
        var seed = options.Seed ?? throw new ArgumentException("The seed must be decided before loading.", nameof(options));
        // A resized MLImage column declares its size: a square that holds it is the side, and squares need no check.
        var declaredSize = training.Schema[imageColumn].Type as ImageDataViewType is { Height: > 0, Width: > 0 } image ? image : null;
        int? declared = declaredSize is null ? null : Math.Max(declaredSize.Height, declaredSize.Width);
        bool declaredSquare = declaredSize is not null && declaredSize.Height == declaredSize.Width;
        bool readSizes = options.ImageSize is null && declared is null || options.ItemSize is not null || options.Resize == ResizeMethod.Squish && !declaredSquare;
        if (kind == ImageColumnKind.Image && readSizes)
            (options.Log ?? (_ => { }))($"Reading every image of column '{imageColumn}' once for its size, before decoding (set ImageSize to skip this pass).");
        var columns = new List<ImageColumn> { new(training, imageColumn, kind, "training data") };
        if (validation is not null) columns.Add(new(validation, imageColumn, kind, "validation data"));
        var scans = columns.Select(c => ColumnRowScan.Read(c.View, c.What, imageColumn, kind, labelColumn, classes, readSizes, options.MaxImagePixels, throwIfCancelled)).ToList();
        RefuseBadRows(columns, scans, options.OnBadImage);
        var usable = columns.Zip(scans).SelectMany(v => Enumerable.Range(0, v.Second.Count).Where(r => v.Second.Problems[r] is null)
            .Select(r => (v.First.RowName(r), v.Second.Sizes[r].Width, v.Second.Sizes[r].Height))).ToList();
        int side = options.ImageSize ?? declared
            ?? ImagePipeline.UniformSide(usable, $"FastAiCnn: the images in column '{imageColumn}'", $"fastai's usual is 224");
        options.RefuseBeforeDecoding?.Invoke(side, options.BatchSize);
        var pipeline = new ImagePipeline(side, side, options.Resize);
        if (readSizes) pipeline.RefuseStretching(usable, $"FastAiCnn: the images in column '{imageColumn}'");

        var plan = ColumnSplitPlan.Make(scans, validation is not null, validationFraction, seed);
        return ImageDataLoaders.FromColumn(classes, pipeline, options, Split(plan.Train), Split(plan.Valid), throwIfCancelled, cancellation);

        (ColumnImages, IReadOnlyList<int>) Split(List<(int View, int Row)> rows)
        {
            // A split's rows come from one view: the training view, or the validation view when there is one.
            int view = rows.Count > 0 ? rows[0].View : 0;
            var images = new ColumnImages(columns[view], rows.Select(r => r.Row).ToList(), scans[view], context, labelColumn);
            return (images, rows.Select(r => (int)scans[r.View].Keys[r.Row] - 1).ToList());
        }
    }

    /// <summary>With <see cref="BadImageHandling.Fail"/>, the first row whose image cannot be used is refused by name; a view of no usable image always is.</summary>
    private void RefuseBadRows(IReadOnlyList<ImageColumn> columns, IReadOnlyList<ColumnRowScan> scans, BadImageHandling onBadImage)
    {
        for (int v = 0; v < scans.Count; v++)
        {
            var scan = scans[v];
            int row = Array.FindIndex(scan.Problems, p => p is not null);
            if (row >= 0 && onBadImage == BadImageHandling.Fail)
                throw BadImage.Refusal($"in {columns[v].RowName(row)} (column '{imageColumn}')", scan.Problems[row]!);
            if (row >= 0 && scan.Problems.All(p => p is not null))
                throw new InvalidDataException($"FastAiCnn: none of the {scan.Count} images in column '{imageColumn}' of the {scan.What} can be used; {columns[v].RowName(row)}: {scan.Problems[row]}.");
        }
    }
}
