using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class MetricsPlotTests
{
    [Fact]
    public void LossesAndEachMetric_GetTheirOwnPanelInOneRow()
    {
        var probe = new PngProbe(MetricsPlot.ToPng(
            [new NamedSeries("accuracy", [0.8, 0.88, 0.91, 0.93]), new NamedSeries("error_rate", [0.2, 0.12, 0.09, 0.07])],
            trainLosses: [1.2, 0.8, 0.6, 0.5],
            validLosses: [0.9, 0.6, 0.5, 0.45]));

        Assert.Equal((int)Math.Round(3 * 380 * 1.5), probe.Width);
        probe.AssertIsAPicture();
        var third = probe.Width / 3;
        SKRectI Panel(int i) => new(i * third, 0, (i + 1) * third, probe.Height);
        Assert.True(probe.CountNear(PlotColors.Blue, region: Panel(0)) > 100, "train_loss missing from the loss panel");
        Assert.True(probe.CountNear(PlotColors.Orange, region: Panel(0)) > 100, "valid_loss missing from the loss panel");
        Assert.True(probe.CountNear(PlotColors.Green, region: Panel(1)) > 100, "accuracy missing from the second panel");
        Assert.True(probe.CountNear(PlotColors.Red, region: Panel(2)) > 100, "error_rate missing from the third panel");
        Assert.Equal(0, probe.CountNear(PlotColors.Green, region: Panel(2)));
    }

    [Fact]
    public void FourMetrics_AreLaidOutTwoByTwo()
    {
        double[] values = [0.5, 0.6, 0.7];
        var probe = new PngProbe(MetricsPlot.ToPng(
            [new NamedSeries("a", values), new NamedSeries("b", values), new NamedSeries("c", values), new NamedSeries("d", values)],
            options: new PlotOptions { Title = "" }));

        Assert.Equal((int)Math.Round(2 * 380 * 1.5), probe.Width);
        Assert.Equal((int)Math.Round(2 * 300 * 1.5), probe.Height);
        int w = probe.Width / 2, h = probe.Height / 2;
        SKColor[] expected = [PlotColors.Green, PlotColors.Red, PlotColors.Purple, PlotColors.Brown];
        for (var i = 0; i < 4; i++)
        {
            var quadrant = new SKRectI(i % 2 * w, i / 2 * h, (i % 2 + 1) * w, (i / 2 + 1) * h);
            Assert.True(probe.CountNear(expected[i], 8, quadrant) > 100, $"metric {i} is not in its quadrant");
        }
    }

    [Fact]
    public void NonFiniteValues_LeaveGapsInsteadOfFailing()
    {
        var probe = new PngProbe(MetricsPlot.ToPng([new NamedSeries("accuracy", [0.5, double.NaN, 0.7, 0.8])]));
        probe.AssertIsAPicture();
        Assert.True(probe.CountNear(PlotColors.Green) > 50);
    }

    [Fact]
    public void NothingToPlot_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => MetricsPlot.ToPng([]));
        Assert.Equal("metrics", error.ParamName);
    }
}
