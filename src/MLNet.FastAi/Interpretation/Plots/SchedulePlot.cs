using MLNet.FastAi.Internal;
using ScottPlot;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// The hyper-parameter schedule of a training run, one panel per hyper-parameter against the iteration
/// (fastai's <c>Recorder.plot_sched</c>): the one-cycle learning rate warming up and annealing, momentum mirroring it.
/// </summary>
internal static class SchedulePlot
{
    private const int PanelWidth = 480;
    private const int PanelHeight = 340;

    /// <summary>Renders the learning rate (and momentum when given) per iteration as PNG bytes.</summary>
    /// <param name="learningRates">The learning rate used at each training iteration.</param>
    /// <param name="momentums">The momentum (Adam's β1) at each iteration, shown in a second panel; optional.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(IReadOnlyList<double> learningRates, IReadOnlyList<double>? momentums = null, PlotOptions? options = null)
    {
        SeriesData.RequireValues(learningRates, nameof(learningRates), "Learning rates");
        var series = new List<NamedSeries> { new("Learning rate", learningRates) };
        if (momentums is not null)
        {
            SeriesData.RequireValues(momentums, nameof(momentums), "Momentums");
            series.Add(new NamedSeries("Momentum", momentums));
        }
        return ToPng(series, options);
    }

    /// <summary>Renders any set of per-iteration hyper-parameters, one panel each, as PNG bytes.</summary>
    /// <param name="hyperParameters">One series per hyper-parameter; its name labels the panel's y axis.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(IReadOnlyList<NamedSeries> hyperParameters, PlotOptions? options = null)
    {
        SeriesData.RequireValues(hyperParameters, nameof(hyperParameters), "Hyper-parameter series");
        options ??= new PlotOptions();
        options.Validate();
        var panels = new List<Plot>();
        for (var i = 0; i < hyperParameters.Count; i++)
        {
            var hyper = hyperParameters[i];
            SeriesData.RequireValues(hyper.Values, nameof(hyperParameters), $"Values of hyper-parameter '{hyper.Name}'");
            var plot = PlotStyle.NewPlot(null);
            PlotStyle.Linear(plot.Axes.Bottom, "Iteration", integerTicks: true);
            PlotStyle.Linear(plot.Axes.Left, hyper.Name);
            var (xs, ys) = SeriesData.IndexedPoints(hyper.Values);
            plot.Add.ScatterLine(xs, ys, PlotStyle.Cycle[0]).LineWidth = 2;
            panels.Add(plot);
        }
        var columns = Math.Min(2, panels.Count);
        var rows = (panels.Count + 1) / 2;
        var title = options.ResolveTitle("Hyper-parameter schedule");
        var width = options.Width ?? PanelWidth * columns;
        var height = options.Height ?? PanelHeight * rows + FigureRenderer.TitleBand(title);
        return FigureRenderer.ToPng(panels, columns, width, height, options.Scale, title);
    }

    /// <summary>Writes the learning-rate (and momentum) schedule to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="learningRates">The learning rate used at each training iteration.</param>
    /// <param name="momentums">The momentum at each iteration; optional.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(string path, IReadOnlyList<double> learningRates, IReadOnlyList<double>? momentums = null, PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(learningRates, momentums, options));

    /// <summary>Writes any set of per-iteration hyper-parameters, one panel each, to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="hyperParameters">One series per hyper-parameter.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(string path, IReadOnlyList<NamedSeries> hyperParameters, PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(hyperParameters, options));
}
