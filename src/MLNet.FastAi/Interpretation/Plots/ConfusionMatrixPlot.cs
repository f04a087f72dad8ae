using MLNet.FastAi.Internal;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// The confusion matrix as a heat map in matplotlib's "Blues": rows are the actual classes, columns the predicted
/// ones, each cell's count (or row fraction) written in it (fastai's <c>ClassificationInterpretation.plot_confusion_matrix</c>).
/// </summary>
public static class ConfusionMatrixPlot
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
        var model = PlotStyle.NewModel(null);
        model.Padding = new OxyThickness(0); // the layout's margins already hold every gap, so cells come out square
        model.PlotMargins = new OxyThickness(layout.Left, layout.Top, layout.Right, layout.Bottom);
        model.Axes.Add(new LinearColorAxis
        {
            Position = AxisPosition.None, Palette = BluesPalette(), Minimum = 0, Maximum = maximum > 0 ? maximum : 1,
        });
        model.Axes.Add(CategoryAxis(AxisPosition.Bottom, "Predicted", classNames, layout.RotateColumnLabels));
        var rows = CategoryAxis(AxisPosition.Left, "Actual", classNames, rotate: false);
        rows.StartPosition = 1; // first class on top, as in a printed matrix
        rows.EndPosition = 0;
        model.Axes.Add(rows);

        var transposed = new double[n, n]; // OxyPlot indexes heat maps [x, y] = [predicted, actual]
        for (var actual = 0; actual < n; actual++)
            for (var predicted = 0; predicted < n; predicted++)
                transposed[predicted, actual] = values[actual, predicted];
        model.Series.Add(new ConfusionHeatMapSeries(maximum)
        {
            X0 = 0, X1 = n - 1, Y0 = 0, Y1 = n - 1, Data = transposed,
            CoordinateDefinition = HeatMapCoordinateDefinition.Center,
            RenderMethod = HeatMapRenderMethod.Rectangles,
            Interpolate = false,
            LabelFormatString = normalize ? "0.00" : "0",
            LabelFontSize = (showValues ?? n <= MaxClassesWithValues) ? 0.3 : 0,
        });

        return FigureRenderer.ToPng([model], 1, layout.Width, layout.Height + titleBand, options.Scale, title);
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

    /// <summary>matplotlib's "Blues" (ColorBrewer), from near-white to navy.</summary>
    internal static OxyPalette BluesPalette() => OxyPalette.Interpolate(
        256,
        OxyColor.Parse("#f7fbff"), OxyColor.Parse("#deebf7"), OxyColor.Parse("#c6dbef"), OxyColor.Parse("#9ecae1"),
        OxyColor.Parse("#6baed6"), OxyColor.Parse("#4292c6"), OxyColor.Parse("#2171b5"), OxyColor.Parse("#08519c"),
        OxyColor.Parse("#08306b"));

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

    private static CategoryAxis CategoryAxis(AxisPosition position, string title, IReadOnlyList<string> classNames, bool rotate)
    {
        var axis = new CategoryAxis
        {
            Position = position, GapWidth = 0, IsPanEnabled = false, IsZoomEnabled = false,
            MajorGridlineStyle = LineStyle.None, TickStyle = TickStyle.Outside, IsTickCentered = true, Angle = rotate ? -90 : 0,
            FontSize = TickFontSize, TitleFontSize = PlotStyle.FontSize, AxisTitleDistance = 10,
        };
        axis.Labels.AddRange(classNames);
        axis.Title = title;
        return axis;
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
    private readonly record struct Layout(int Width, int Height, double Left, double Top, double Right, double Bottom, bool RotateColumnLabels)
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
            return new Layout(width, height, left + spareX, top + spareY, right + spareX, bottom + spareY, rotate);
        }
    }
}
