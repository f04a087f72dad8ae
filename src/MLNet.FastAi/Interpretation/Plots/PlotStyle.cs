using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>The look shared by every plot: matplotlib's default colours and fonts on white, so figures read like fastai's.</summary>
internal static class PlotStyle
{
    /// <summary>matplotlib's "tab10" cycle: fastai's train line is the first colour, validation the second.</summary>
    public static readonly OxyColor[] Cycle =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b),
        OxyColor.FromRgb(0xe3, 0x77, 0xc2), OxyColor.FromRgb(0x7f, 0x7f, 0x7f), OxyColor.FromRgb(0xbc, 0xbd, 0x22),
        OxyColor.FromRgb(0x17, 0xbe, 0xcf),
    ];

    public const double FontSize = 12;

    private static readonly OxyColor GridColor = OxyColor.FromRgb(0xe6, 0xe6, 0xe6);

    public static PlotModel NewModel(string? title)
    {
        return new PlotModel
        {
            Title = string.IsNullOrEmpty(title) ? null : title,
            TitleFontSize = 13,
            TitleFontWeight = FontWeights.Bold,
            DefaultFont = PlotFonts.Family,
            DefaultFontSize = FontSize,
            Background = OxyColors.White,
            PlotAreaBorderColor = OxyColors.Black,
            PlotAreaBorderThickness = new OxyThickness(1),
            TextColor = OxyColors.Black,
            Padding = new OxyThickness(6, 8, 14, 6),
            Culture = CultureInfo.InvariantCulture,
        };
    }

    public static LinearAxis Linear(AxisPosition position, string title, bool integerTicks = false) =>
        Configure(new LinearAxis { Position = position, Title = title, MinimumMajorStep = integerTicks ? 1 : 0,
                                   StringFormat = integerTicks ? "0" : null }, title);

    public static LogarithmicAxis Logarithmic(AxisPosition position, string title) =>
        Configure(new LogarithmicAxis { Position = position, Title = title, StringFormat = "0e+0" }, title);

    public static T Configure<T>(T axis, string title) where T : Axis
    {
        axis.Title = title;
        axis.TitleFontSize = FontSize;
        axis.FontSize = FontSize - 1;
        axis.MajorGridlineStyle = LineStyle.Solid;
        axis.MajorGridlineColor = GridColor;
        axis.TickStyle = TickStyle.Outside;
        axis.AxislineStyle = LineStyle.None;
        axis.MinorTickSize = 2;
        axis.AxisTitleDistance = 6;
        // matplotlib's margins: end points and markers stay clear of the frame.
        axis.MinimumPadding = 0.03;
        axis.MaximumPadding = 0.03;
        return axis;
    }

    public static void AddLegend(PlotModel model, LegendPosition position = LegendPosition.RightTop)
    {
        model.IsLegendVisible = true;
        model.Legends.Add(new Legend
        {
            LegendPosition = position,
            LegendPlacement = LegendPlacement.Inside,
            LegendBackground = OxyColor.FromAColor(220, OxyColors.White),
            LegendBorder = OxyColor.FromRgb(0xcc, 0xcc, 0xcc),
            LegendBorderThickness = 1,
            LegendFontSize = FontSize - 1,
        });
    }
}
