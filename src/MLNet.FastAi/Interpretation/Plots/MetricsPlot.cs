using MLNet.FastAi.Internal;
using ScottPlot;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Every metric per epoch, one panel each, with the training and validation losses together in a first panel
/// (the figure of fastai's <c>Recorder.plot_metrics</c>).
/// </summary>
internal static class MetricsPlot
{
    private const int PanelWidth = 380;
    private const int PanelHeight = 300;

    /// <summary>Renders the metrics (and losses) per epoch as PNG bytes.</summary>
    /// <param name="metrics">One series per metric, one value per epoch (epoch numbers start at 0 as in fastai's table).</param>
    /// <param name="trainLosses">The training loss of each epoch; optional.</param>
    /// <param name="validLosses">The validation loss of each epoch; optional.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(
        IReadOnlyList<NamedSeries> metrics,
        IReadOnlyList<double>? trainLosses = null,
        IReadOnlyList<double>? validLosses = null,
        PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        options ??= new PlotOptions();
        options.Validate();
        var panels = new List<Plot>();
        if (trainLosses is { Count: > 0 } || validLosses is { Count: > 0 })
        {
            var losses = NewPanel("loss");
            AddLine(losses, "train_loss", trainLosses, PlotStyle.Cycle[0]);
            AddLine(losses, "valid_loss", validLosses, PlotStyle.Cycle[1]);
            PlotStyle.AddLegend(losses);
            panels.Add(losses);
        }
        for (var i = 0; i < metrics.Count; i++)
        {
            var metric = metrics[i] ?? throw new ArgumentException($"metrics[{i}] is null.", nameof(metrics));
            SeriesData.RequireValues(metric.Values, nameof(metrics), $"Values of metric '{metric.Name}'");
            var panel = NewPanel(metric.Name);
            AddLine(panel, null, metric.Values, PlotStyle.Cycle[(i + 2) % PlotStyle.Cycle.Length]);
            panels.Add(panel);
        }
        if (panels.Count == 0)
            throw new ArgumentException("There is nothing to plot: no metrics and no losses were given.", nameof(metrics));

        var columns = panels.Count <= 3 ? panels.Count : (int)Math.Ceiling(Math.Sqrt(panels.Count));
        var rows = (panels.Count + columns - 1) / columns;
        var title = options.ResolveTitle("Metrics");
        var width = options.Width ?? PanelWidth * columns;
        var height = options.Height ?? PanelHeight * rows + FigureRenderer.TitleBand(title);
        return FigureRenderer.ToPng(panels, columns, width, height, options.Scale, title);
    }

    /// <summary>Writes the metrics (and losses) per epoch to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="metrics">One series per metric, one value per epoch.</param>
    /// <param name="trainLosses">The training loss of each epoch; optional.</param>
    /// <param name="validLosses">The validation loss of each epoch; optional.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(
        string path,
        IReadOnlyList<NamedSeries> metrics,
        IReadOnlyList<double>? trainLosses = null,
        IReadOnlyList<double>? validLosses = null,
        PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(metrics, trainLosses, validLosses, options));

    private static Plot NewPanel(string name)
    {
        var plot = PlotStyle.NewPlot(name);
        PlotStyle.Linear(plot.Axes.Bottom, "Epoch", integerTicks: true);
        PlotStyle.Linear(plot.Axes.Left, string.Empty);
        return plot;
    }

    private static void AddLine(Plot plot, string? title, IReadOnlyList<double>? values, Color color)
    {
        if (values is null || values.Count == 0)
            return;
        var (xs, ys) = SeriesData.IndexedPoints(values);
        var line = plot.Add.Scatter(xs, ys, color);
        line.LineWidth = 2;
        line.MarkerShape = MarkerShape.FilledCircle;
        line.MarkerSize = 7;
        if (title is not null)
            line.LegendText = title;
    }
}
