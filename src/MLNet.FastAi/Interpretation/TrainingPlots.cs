using MLNet.FastAi.Data;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Interpretation;

/// <summary>
/// fastai's pictures of training, as extension methods: <c>recorder.plot_loss</c>, <c>plot_sched</c>,
/// <c>plot_metrics</c>, <c>plot_lr_find</c>, <c>dls.show_batch</c> and <c>learn.show_results</c>. Each writes a PNG
/// and returns its path.
/// </summary>
public static class TrainingPlots
{
    /// <summary>Smoothed training loss per iteration with validation loss per epoch (fastai's <c>plot_loss</c>).</summary>
    public static string PlotLoss(this Recorder recorder, string path, int skipStart = LossPlot.DefaultSkipStart, PlotOptions? options = null) =>
        LossPlot.Save(path, recorder.Losses, recorder.EpochEndIterations, recorder.Epochs.Select(e => e.ValidLoss).ToList(), skipStart, options);

    /// <summary>Learning rate and momentum per iteration (fastai's <c>plot_sched</c>; v1's <c>plot_lr</c>).</summary>
    public static string PlotSchedule(this Recorder recorder, string path, PlotOptions? options = null) =>
        SchedulePlot.Save(path, recorder.LearningRates, recorder.Momentums, options);

    /// <summary>Losses and every metric per epoch (fastai v1's <c>plot_metrics</c>).</summary>
    public static string PlotMetrics(this Recorder recorder, string path, PlotOptions? options = null)
    {
        var epochs = recorder.Epochs;
        var names = epochs.Count == 0 ? Array.Empty<string>() : epochs[0].Metrics.Keys.ToArray();
        var series = names.Select(n => new NamedSeries(n, epochs.Select(e => e.Metrics[n]).ToList())).ToList();
        return MetricsPlot.Save(path, series, epochs.Select(e => e.TrainLoss).ToList(), epochs.Select(e => e.ValidLoss).ToList(), options);
    }

    /// <summary>The learning-rate finder's curve with its suggestions marked (fastai's <c>plot_lr_find</c>).</summary>
    public static string Plot(this LrFindResult result, string path, int skipEnd = LrFindPlot.DefaultSkipEnd, PlotOptions? options = null) =>
        LrFindPlot.Save(path, result.LearningRates, result.Losses,
            result.Suggestions.Select(s => new LrFindMarker(s.Name, s.LearningRate, s.PointLoss)).ToList(), skipEnd, options);

    /// <summary>
    /// A grid of up to <paramref name="maxCount"/> images titled with their labels (fastai's <c>show_batch</c>): from the
    /// training set with its augmentation by default, so the augmentation is visible, or from any split.
    /// </summary>
    public static string ShowBatch(this ImageDataLoaders data, string path, int maxCount = 9, ImageSplit? split = null, bool augment = true, int? seed = null) =>
        ImageGrid.Save(path, BatchTiles(data, maxCount, split, augment, seed));

    /// <summary>The <see cref="ShowBatch"/> picture as PNG bytes.</summary>
    public static byte[] ShowBatchPng(this ImageDataLoaders data, int maxCount = 9, ImageSplit? split = null, bool augment = true, int? seed = null) =>
        ImageGrid.ToPng(BatchTiles(data, maxCount, split, augment, seed));

    private static List<ImageTile> BatchTiles(ImageDataLoaders data, int maxCount, ImageSplit? split, bool augment, int? seed)
    {
        if (maxCount < 1) throw new ArgumentOutOfRangeException(nameof(maxCount), maxCount, "maxCount must be at least 1.");
        split = data.SplitFor(split ?? data.Train);
        var normalization = data.Normalization ?? NormalizationStats.None;
        var generator = new Random(seed ?? data.Seed);
        var chosen = Enumerable.Range(0, split.Count).OrderBy(_ => generator.Next()).Take(maxCount).ToArray();
        using var scope = NewDisposeScope();
        using var loader = data.OrderedLoader(split, CPU, normalization, augment && ReferenceEquals(split, data.Train) ? data.Augmentation : null, seed ?? data.Seed);
        using var torchGenerator = new Generator((ulong)(seed ?? data.Seed));
        var batch = loader.Assemble(tensor(chosen.Select(i => (long)i).ToArray()), torchGenerator);
        var pixels = (loader.Denormalize(batch.Images) * 255).round().to(ScalarType.Byte).contiguous();
        int h = (int)pixels.shape[2], w = (int)pixels.shape[3];
        var bytes = pixels.data<byte>().ToArray();
        return chosen.Select((index, k) => ImageTile.FromRgbChw(bytes.AsSpan(k * 3 * h * w, 3 * h * w), w, h, split.LabelOf(index) ?? "")).ToList();
    }

    /// <summary>
    /// Validation images with their actual and predicted labels, green when right and red when wrong (fastai's
    /// <c>show_results</c>).
    /// </summary>
    public static string ShowResults(this Learner learner, string path, int maxCount = 9, ImageSplit? split = null)
    {
        var preds = learner.GetPreds(split);
        var shown = Enumerable.Range(0, Math.Min(maxCount, preds.Count)).ToList();
        var tiles = ImageTile.FromSource(preds.Split.Source, shown)
            .Select((tile, i) => tile.WithResultTitle(preds.Split.LabelOf(i) ?? "?", preds.PredictedLabel(i)))
            .ToList();
        return ImageGrid.Save(path, tiles);
    }
}
