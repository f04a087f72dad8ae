using MLNet.FastAi.Internal;
using ScottPlot;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// The learning-rate finder's loss against the learning rate on a log scale, with each suggestion marked and
/// named in the legend (fastai's <c>Recorder.plot_lr_find</c>).
/// </summary>
internal static class LrFindPlot
{
    /// <summary>fastai hides the last iterations, where the loss shoots up and would flatten the rest of the curve.</summary>
    public const int DefaultSkipEnd = 5;

    /// <summary>Renders the learning-rate finder curve as PNG bytes.</summary>
    /// <param name="learningRates">The learning rate of each finder iteration, increasing.</param>
    /// <param name="losses">The (smoothed) loss of each finder iteration.</param>
    /// <param name="suggestions">Suggested learning rates to mark; optional.</param>
    /// <param name="skipEnd">Trailing iterations left out; reduced when fewer than two points would remain.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(
        IReadOnlyList<double> learningRates,
        IReadOnlyList<double> losses,
        IReadOnlyList<LrFindMarker>? suggestions = null,
        int skipEnd = DefaultSkipEnd,
        PlotOptions? options = null)
    {
        Validate(learningRates, losses, skipEnd);
        options ??= new PlotOptions();
        options.Validate();
        var end = Math.Max(Math.Min(2, learningRates.Count), learningRates.Count - skipEnd);

        var plot = PlotStyle.NewPlot(null);
        // ScottPlot has no log scale: the x coordinate is log10(lr), and the axis writes the ticks back as rates.
        PlotStyle.Logarithmic(plot.Axes.Bottom, "Learning Rate");
        PlotStyle.Linear(plot.Axes.Left, "Loss");
        var (xs, ys) = SeriesData.FinitePoints(learningRates, losses, 0, end);
        var curve = plot.Add.ScatterLine(xs.Select(Math.Log10).ToArray(), ys, PlotStyle.Cycle[0]);
        curve.LineWidth = 2;

        if (suggestions is { Count: > 0 })
        {
            for (var i = 0; i < suggestions.Count; i++)
            {
                var suggestion = suggestions[i] ?? throw new ArgumentException($"suggestions[{i}] is null.", nameof(suggestions));
                if (!(suggestion.LearningRate > 0) || !double.IsFinite(suggestion.LearningRate))
                    throw new ArgumentException(
                        $"Suggestion '{suggestion.Name}' has learning rate {suggestion.LearningRate}; it must be positive and finite.",
                        nameof(suggestions));
                var loss = suggestion.Loss ?? LossAt(learningRates, losses, suggestion.LearningRate);
                var marker = plot.Add.Marker(Math.Log10(suggestion.LearningRate), loss, MarkerShape.FilledCircle, 12,
                    PlotStyle.Cycle[(i + 1) % PlotStyle.Cycle.Length]);
                marker.MarkerStyle.OutlineColor = Colors.White;
                marker.MarkerStyle.OutlineWidth = 1;
                marker.LegendText = suggestion.Label;
            }
            // Usually the curve starts high on the left and ends high on the right, leaving the lower left corner free.
            PlotStyle.AddLegend(plot, Alignment.LowerLeft);
        }
        var title = options.ResolveTitle("Learning rate finder");
        return FigureRenderer.ToPng([plot], 1, options.Width ?? 640, options.Height ?? 420, options.Scale, title);
    }

    /// <summary>Writes the learning-rate finder curve to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="learningRates">The learning rate of each finder iteration, increasing.</param>
    /// <param name="losses">The (smoothed) loss of each finder iteration.</param>
    /// <param name="suggestions">Suggested learning rates to mark; optional.</param>
    /// <param name="skipEnd">Trailing iterations left out.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(
        string path,
        IReadOnlyList<double> learningRates,
        IReadOnlyList<double> losses,
        IReadOnlyList<LrFindMarker>? suggestions = null,
        int skipEnd = DefaultSkipEnd,
        PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(learningRates, losses, suggestions, skipEnd, options));

    /// <summary>The loss read off the curve at a learning rate, interpolating linearly in log(lr).</summary>
    internal static double LossAt(IReadOnlyList<double> learningRates, IReadOnlyList<double> losses, double learningRate)
    {
        var bestIndex = -1;
        for (var i = 0; i < learningRates.Count; i++)
        {
            if (!double.IsFinite(losses[i]))
                continue;
            if (bestIndex < 0 || Math.Abs(Math.Log(learningRates[i] / learningRate)) < Math.Abs(Math.Log(learningRates[bestIndex] / learningRate)))
                bestIndex = i;
        }
        if (bestIndex < 0)
            return double.NaN;
        for (var i = 0; i + 1 < learningRates.Count; i++)
        {
            double lo = learningRates[i], hi = learningRates[i + 1];
            if (learningRate < lo || learningRate > hi || !(hi > lo) || !double.IsFinite(losses[i]) || !double.IsFinite(losses[i + 1]))
                continue;
            var t = Math.Log(learningRate / lo) / Math.Log(hi / lo);
            return losses[i] + t * (losses[i + 1] - losses[i]);
        }
        return losses[bestIndex];
    }

    private static void Validate(IReadOnlyList<double> learningRates, IReadOnlyList<double> losses, int skipEnd)
    {
        SeriesData.RequireValues(learningRates, nameof(learningRates), "Learning rates");
        SeriesData.RequireValues(losses, nameof(losses), "Losses");
        if (learningRates.Count != losses.Count)
            throw new ArgumentException(
                $"learningRates has {learningRates.Count} values but losses has {losses.Count}; give one loss per learning rate.",
                nameof(losses));
        if (skipEnd < 0)
            throw new ArgumentOutOfRangeException(nameof(skipEnd), skipEnd, "skipEnd must not be negative.");
        for (var i = 0; i < learningRates.Count; i++)
        {
            if (!(learningRates[i] > 0) || !double.IsFinite(learningRates[i]))
                throw new ArgumentException(
                    $"learningRates[{i}] = {learningRates[i]}; learning rates must be positive and finite for the log axis.",
                    nameof(learningRates));
        }
    }
}
