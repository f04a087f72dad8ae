using MLNet.FastAi.Internal;
using System.Globalization;
using ScottPlot;
using ScottPlot.Colormaps;
using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// The confusion matrix as a heat map in matplotlib's "Blues": rows are the actual classes, columns the predicted
/// ones, each cell's count (or row fraction) written in it (fastai's <c>ClassificationInterpretation.plot_confusion_matrix</c>).
/// </summary>
internal static class ConfusionMatrixPlot
{
    /// <summary>Above this many classes the cells are too small for numbers unless asked for explicitly.</summary>
    public const int MaxClassesWithValues = 30;

    private const double TickFontSize = PlotStyle.FontSize - 1;
    private const double AxisTitleBand = 30;
    private const double TickBand = 12;

    /// <summary>Renders the confusion matrix as PNG bytes.</summary>
    /// <param name="classNames">The class names, in the order of the matrix rows and columns.</param>
    /// <param name="counts">
    /// <c>counts[actual, predicted]</c>: how many items of class <c>actual</c> were predicted as <c>predicted</c>.
    /// </param>
    /// <param name="normalize">Show each row as fractions of its actual class instead of raw counts.</param>
    /// <param name="showValues">Write the value in each cell; <see langword="null"/> does so up to <see cref="MaxClassesWithValues"/> classes.</param>
    /// <param name="options">Size and title; <see langword="null"/> sizes the figure to the number of classes.</param>
    public static byte[] ToPng(
        IReadOnlyList<string> classNames,
        int[,] counts,
        bool normalize = false,
        bool? showValues = null,
        PlotOptions? options = null)
    {
        Validate(classNames, counts);
        options ??= new PlotOptions();
        options.Validate();
        var n = classNames.Count;
        var values = Values(counts, normalize);
        var maximum = 0.0;
        foreach (var v in values)
            maximum = Math.Max(maximum, v);

        var title = options.ResolveTitle("Confusion matrix");
        var titleBand = FigureRenderer.TitleBand(title);
        var layout = Layout.Compute(classNames, options.Width, options.Height - titleBand);
        var plot = PlotStyle.NewPlot(null);
        // The layout's margins hold every gap, so the data area (and each cell) comes out square.
        plot.Layout.Fixed(new PixelPadding((float)layout.Left, (float)layout.Right, (float)layout.Bottom, (float)layout.Top));
        plot.HideGrid();

        // ScottPlot draws row 0 of the intensities at the top, as in a printed matrix: row i is centred at y = n - 1 - i.
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = Blues;
        heatmap.ManualRange = new ScottPlot.Range(0, maximum > 0 ? maximum : 1);
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);

        var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        ClassAxis(plot.Axes.Bottom, "Predicted", positions, classNames.ToArray());
        ClassAxis(plot.Axes.Left, "Actual", positions.Select(p => n - 1 - p).ToArray(), classNames.ToArray());
        if (layout.RotateColumnLabels)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -90;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            // A fixed layout places the axis title as if the tick labels were level: move it below the rotated ones.
            plot.Axes.Bottom.Label.OffsetY = (float)(layout.WidestLabel - TickFontSize * 1.3);
        }

        if (showValues ?? n <= MaxClassesWithValues)
        {
            var fontSize = (float)Math.Min(16, layout.Cell * 0.3);
            for (var actual = 0; actual < n; actual++)
                for (var predicted = 0; predicted < n; predicted++)
                {
                    var value = values[actual, predicted];
                    var text = plot.Add.Text(value.ToString(normalize ? "0.00" : "0", CultureInfo.InvariantCulture), predicted, n - 1 - actual);
                    text.Alignment = Alignment.MiddleCenter;
                    text.LabelFontSize = fontSize;
                    text.LabelFontName = PlotFonts.Family;
                    // matplotlib's rule in fastai's matrix: white text on the darker half of the palette.
                    text.LabelFontColor = value > maximum / 2 ? Colors.White : Colors.Black;
                }
        }

        return FigureRenderer.ToPng([plot], 1, layout.Width, layout.Height + titleBand, options.Scale, title);
    }

    /// <summary>Writes the confusion matrix to a PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="classNames">The class names, in the order of the matrix rows and columns.</param>
    /// <param name="counts"><c>counts[actual, predicted]</c>.</param>
    /// <param name="normalize">Show each row as fractions of its actual class.</param>
    /// <param name="showValues">Write the value in each cell; <see langword="null"/> decides by the number of classes.</param>
    /// <param name="options">Size and title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(
        string path,
        IReadOnlyList<string> classNames,
        int[,] counts,
        bool normalize = false,
        bool? showValues = null,
        PlotOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(classNames, counts, normalize, showValues, options));

    /// <summary>matplotlib's "Blues" (ColorBrewer), from near-white to navy (ScottPlot's own "Blues" is another ramp).</summary>
    private static readonly IColormap Blues = new CustomInterpolated(
        new[] { "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b" }
            .Select(Color.FromHex).ToArray());

    private static double[,] Values(int[,] counts, bool normalize)
    {
        var n = counts.GetLength(0);
        var values = new double[n, n];
        for (var actual = 0; actual < n; actual++)
        {
            long rowTotal = 0;
            for (var predicted = 0; predicted < n; predicted++)
                rowTotal += counts[actual, predicted];
            for (var predicted = 0; predicted < n; predicted++)
                values[actual, predicted] = !normalize ? counts[actual, predicted]
                    : rowTotal == 0 ? 0 : (double)counts[actual, predicted] / rowTotal;
        }
        return values;
    }

    private static void ClassAxis(IAxis axis, string title, double[] positions, string[] classNames)
    {
        axis.SetTicks(positions, classNames);
        axis.Label.Text = title;
        axis.Label.FontSize = PlotStyle.FontSize;
        axis.Label.Bold = false;
        axis.TickLabelStyle.FontSize = (float)TickFontSize;
        axis.MajorTickStyle.Length = 4;
        axis.MinorTickStyle.Length = 0;
    }

    private static void Validate(IReadOnlyList<string> classNames, int[,] counts)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(counts);
        if (classNames.Count < 2)
            throw new ArgumentException($"A confusion matrix needs at least 2 classes; got {classNames.Count}.", nameof(classNames));
        if (counts.GetLength(0) != classNames.Count || counts.GetLength(1) != classNames.Count)
            throw new ArgumentException(
                $"counts is {counts.GetLength(0)}×{counts.GetLength(1)} but there are {classNames.Count} class names; it must be square, one row and column per class.",
                nameof(counts));
        for (var i = 0; i < classNames.Count; i++)
        {
            if (classNames[i] is null)
                throw new ArgumentException($"classNames[{i}] is null.", nameof(classNames));
        }
        foreach (var count in counts)
        {
            if (count < 0)
                throw new ArgumentException($"counts contains {count}; counts cannot be negative.", nameof(counts));
        }
    }

    /// <summary>Margins sized to the class names so the cells come out square and nothing is clipped.</summary>
    private readonly record struct Layout(int Width, int Height, double Left, double Top, double Right, double Bottom, bool RotateColumnLabels, double Cell, double WidestLabel)
    {
        public static Layout Compute(IReadOnlyList<string> classNames, int? requestedWidth, int? requestedHeight)
        {
            var n = classNames.Count;
            using var font = new SKFont(PlotFonts.Typeface(), (float)TickFontSize);
            var widest = classNames.Max(name => (double)font.MeasureText(name));
            var cell = Math.Clamp(480.0 / n, 12, 90);
            var rotate = widest > cell * 0.9;
            var left = widest + TickBand + AxisTitleBand;
            var bottom = (rotate ? widest : TickFontSize * 1.3) + TickBand + AxisTitleBand;
            const double top = 10, right = 24;

            var width = requestedWidth ?? (int)Math.Ceiling(left + n * cell + right);
            var height = Math.Max(1, requestedHeight ?? (int)Math.Ceiling(top + n * cell + bottom));
            var side = Math.Max(n, Math.Min(width - left - right, height - top - bottom));
            var spareX = Math.Max(0, width - left - right - side) / 2;
            var spareY = Math.Max(0, height - top - bottom - side) / 2;
            return new Layout(width, height, left + spareX, top + spareY, right + spareX, bottom + spareY, rotate, side / n, widest);
        }
    }
}
