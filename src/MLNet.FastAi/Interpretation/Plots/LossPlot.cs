using MLNet.FastAi.Internal;
using ScottPlot;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Training loss per iteration with the validation loss at the end of each epoch on the same axes
/// (fastai's <c>Recorder.plot_loss</c>).
/// </summary>
internal static class LossPlot
{
    /// <summary>fastai skips the first iterations because the smoothed loss starts out noisy.</summary>
    public const int DefaultSkipStart = 5;

    /// <summary>Renders the loss curves as PNG bytes.</summary>
    /// <param name="trainLosses">
    /// The training loss at each iteration, plotted as given; fastai's Recorder records the exponentially smoothed
    /// loss here, not the raw batch loss.
    /// </param>
    /// <param name="epochEndIterations">
    /// For each epoch, how many training iterations had run when it ended (fastai's <c>Recorder.iters</c>); the
    /// validation loss of that epoch is drawn there. Optional when <paramref name="validLosses"/> is omitted.
    /// </param>
    /// <param name="validLosses">The validation loss of each epoch; optional.</param>
    /// <param name="skipStart">Leading iterations left out; reduced when the run is shorter than that.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(
        IReadOnlyList<double> trainLosses,
        IReadOnlyList<int>? epochEndIterations = null,
        IReadOnlyList<double>? validLosses = null,
        int skipStart = DefaultSkipStart,
        PlotOptions? options = null)
    {
        SeriesData.RequireValues(trainLosses, nameof(trainLosses), "Training losses");
        if (skipStart < 0)
            throw new ArgumentOutOfRangeException(nameof(skipStart), skipStart, "skipStart must not be negative.");
        ValidateEpochs(trainLosses.Count, epochEndIterations, validLosses);
        options ??= new PlotOptions();
        options.Validate();
        var start = Math.Min(skipStart, trainLosses.Count - 1);

        var plot = PlotStyle.NewPlot(null);
        PlotStyle.Linear(plot.Axes.Bottom, "Iteration", integerTicks: true);
        PlotStyle.Linear(plot.Axes.Left, "Loss");
        var (xs, ys) = SeriesData.IndexedPoints(trainLosses, start);
        var train = plot.Add.ScatterLine(xs, ys, PlotStyle.Cycle[0]);
        train.LineWidth = 1.8f;
        train.LegendText = "train";

        if (validLosses is { Count: > 0 } && epochEndIterations is not null)
        {
            var ends = new List<double>();
            var losses = new List<double>();
            for (var epoch = 0; epoch < validLosses.Count; epoch++)
            {
                if (epochEndIterations[epoch] >= start && double.IsFinite(validLosses[epoch]))
                {
                    ends.Add(epochEndIterations[epoch]);
                    losses.Add(validLosses[epoch]);
                }
            }
            var valid = plot.Add.Scatter(ends.ToArray(), losses.ToArray(), PlotStyle.Cycle[1]);
            valid.LineWidth = 1.8f;
            valid.MarkerShape = MarkerShape.FilledCircle;
            valid.MarkerSize = 7;
            valid.LegendText = "valid";
        }
        PlotStyle.AddLegend(plot);
        var title = options.ResolveTitle("Loss");
        return FigureRenderer.ToPng([plot], 1, options.Width ?? 640, options.Height ?? 420, options.Scale, title);
    }

    /// <summary>Writes the loss curves to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="trainLosses">The (smoothed) training loss at each iteration.</param>
    /// <param name="epochEndIterations">For each epoch, the number of iterations run when it ended.</param>
    /// <param name="validLosses">The validation loss of each epoch; optional.</param>
    /// <param name="skipStart">Leading iterations left out.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(
        string path,
        IReadOnlyList<double> trainLosses,
        IReadOnlyList<int>? epochEndIterations = null,
        IReadOnlyList<double>? validLosses = null,
        int skipStart = DefaultSkipStart,
        PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(trainLosses, epochEndIterations, validLosses, skipStart, options));

    private static void ValidateEpochs(int iterations, IReadOnlyList<int>? epochEndIterations, IReadOnlyList<double>? validLosses)
    {
        if (validLosses is null || validLosses.Count == 0)
            return;
        if (epochEndIterations is null)
            throw new ArgumentNullException(nameof(epochEndIterations),
                "Validation losses need epochEndIterations: the iteration count at the end of each epoch.");
        if (epochEndIterations.Count != validLosses.Count)
            throw new ArgumentException(
                $"epochEndIterations has {epochEndIterations.Count} entries but validLosses has {validLosses.Count}; give one per epoch.",
                nameof(epochEndIterations));
        var previous = 0;
        for (var epoch = 0; epoch < epochEndIterations.Count; epoch++)
        {
            var end = epochEndIterations[epoch];
            if (end < previous || end > iterations)
                throw new ArgumentException(
                    $"epochEndIterations[{epoch}] = {end} must be non-decreasing and at most the {iterations} recorded iterations.",
                    nameof(epochEndIterations));
            previous = end;
        }
    }
}
