using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>The look shared by every plot: matplotlib's default colours and fonts on white, so figures read like fastai's.</summary>
internal static class PlotStyle
{
    /// <summary>matplotlib's "tab10" cycle: fastai's train line is the first colour, validation the second.</summary>
    public static readonly Color[] Cycle =
    [
        new(0x1f, 0x77, 0xb4), new(0xff, 0x7f, 0x0e), new(0x2c, 0xa0, 0x2c), new(0xd6, 0x27, 0x28), new(0x94, 0x67, 0xbd),
        new(0x8c, 0x56, 0x4b), new(0xe3, 0x77, 0xc2), new(0x7f, 0x7f, 0x7f), new(0xbc, 0xbd, 0x22), new(0x17, 0xbe, 0xcf),
    ];

    public const float FontSize = 12;

    private static readonly Color GridColor = new(0xe6, 0xe6, 0xe6);

    /// <summary>A white plot with a black frame, light grid and matplotlib's margins, in <see cref="PlotFonts.Family"/>.</summary>
    public static Plot NewPlot(string? title)
    {
        var plot = new Plot();
        // ScottPlot's own default family is whatever the system reports first (DejaVu Serif on Debian).
        plot.Font.Set(PlotFonts.Family);
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Grid.MajorLineColor = GridColor;
        plot.Axes.FrameColor(Colors.Black);
        plot.Axes.FrameWidth(1);
        // ScottPlot's default margins (a tenth of the range, split between the two ends) are matplotlib's 5% a side.
        if (!string.IsNullOrEmpty(title))
        {
            plot.Title(title, 13);
            plot.Axes.Title.Label.Bold = true;
        }
        return plot;
    }

    /// <summary>Labels an axis and gives it plain numeric ticks (integers only for iterations and epochs).</summary>
    public static void Linear(IAxis axis, string title, bool integerTicks = false)
    {
        Label(axis, title);
        axis.TickGenerator = new NumericAutomatic { IntegerTicksOnly = integerTicks, LabelFormatter = FormatNumber };
    }

    /// <summary>
    /// Labels an axis whose coordinates are log10 of the values (ScottPlot has no log scale): ticks at the powers of
    /// ten, written as the values, with the eight minor ticks between them.
    /// </summary>
    public static void Logarithmic(IAxis axis, string title)
    {
        Label(axis, title);
        axis.TickGenerator = new NumericAutomatic
        {
            IntegerTicksOnly = true,
            MinorTickGenerator = new LogMinorTickGenerator(),
            LabelFormatter = exponent => Math.Pow(10, exponent).ToString("0e+0", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>
    /// Shows the legend in the corner of the data area that the plotted points leave freest (matplotlib's
    /// <c>loc="best"</c>), <paramref name="preferred"/> among equals, so it hides neither the curve nor a marker.
    /// </summary>
    public static void AddLegend(Plot plot, Alignment preferred = Alignment.UpperRight)
    {
        plot.ShowLegend(FreestCorner(plot, preferred));
        plot.Legend.FontName = PlotFonts.Family;
        plot.Legend.FontSize = FontSize - 1;
        plot.Legend.BackgroundColor = Colors.White.WithAlpha(220);
        plot.Legend.OutlineColor = new Color(0xcc, 0xcc, 0xcc);
        plot.Legend.OutlineWidth = 1;
        plot.Legend.ShadowColor = Colors.Transparent;
    }

    private static Alignment FreestCorner(Plot plot, Alignment preferred)
    {
        var points = plot.GetPlottables<ScottPlot.Plottables.Scatter>().SelectMany(p => p.Data.GetScatterPoints())
            .Concat(plot.GetPlottables<ScottPlot.Plottables.Marker>().Select(m => m.Location))
            .Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        if (points.Count == 0) return preferred;
        double minX = points.Min(p => p.X), maxX = points.Max(p => p.X), minY = points.Min(p => p.Y), maxY = points.Max(p => p.Y);
        // A legend of a few entries takes about two fifths of the width and a third of the height of a corner.
        int Count(bool right, bool top) => points.Count(p =>
            (right ? p.X >= maxX - 0.4 * (maxX - minX) : p.X <= minX + 0.4 * (maxX - minX)) &&
            (top ? p.Y >= maxY - 0.35 * (maxY - minY) : p.Y <= minY + 0.35 * (maxY - minY)));
        var corners = new[] { preferred, Alignment.UpperRight, Alignment.UpperLeft, Alignment.LowerLeft, Alignment.LowerRight };
        return corners.MinBy(c => Count(c is Alignment.UpperRight or Alignment.LowerRight, c is Alignment.UpperRight or Alignment.UpperLeft));
    }

    private static void Label(IAxis axis, string title)
    {
        axis.Label.Text = title;
        axis.Label.FontSize = FontSize;
        axis.Label.Bold = false;
        axis.TickLabelStyle.FontSize = FontSize - 1;
    }

    /// <summary>Invariant-culture tick labels without floating-point noise (0.30000000000000004 reads 0.3).</summary>
    private static string FormatNumber(double value)
    {
        double magnitude = Math.Abs(value);
        return magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e6)
            ? value.ToString("0.##e+0", CultureInfo.InvariantCulture)
            : Math.Round(value, 10).ToString("0.#####", CultureInfo.InvariantCulture);
    }
}
