using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class LrFindPlotTests
{
    private static (double[] Lrs, double[] Losses) FinderRun(int count = 100)
    {
        var lrs = new double[count];
        var losses = new double[count];
        for (var i = 0; i < count; i++)
        {
            lrs[i] = 1e-7 * Math.Pow(10, 7.0 * i / (count - 1));
            var x = Math.Log10(lrs[i]);
            losses[i] = 2.3 - 1.6 / (1 + Math.Exp(-(x + 3.5) * 2.5)) + (x > -1.5 ? Math.Exp((x + 1.5) * 1.5) - 1 : 0);
        }
        return (lrs, losses);
    }

    private static bool IsOrange(SKColor c) => PngProbe.Near(c, PlotColors.Orange, 24);

    [Fact]
    public void Suggestions_AreMarkedInTheirOwnColours()
    {
        var (lrs, losses) = FinderRun();

        var marked = new PngProbe(LrFindPlot.ToPng(lrs, losses, [new LrFindMarker("valley", 1.32e-3), new LrFindMarker("minimum", 2e-2)]));
        var plain = new PngProbe(LrFindPlot.ToPng(lrs, losses));

        marked.AssertIsAPicture();
        Assert.True(marked.CountNear(PlotColors.Blue) > 300, "The loss curve is missing.");
        Assert.True(marked.Count(IsOrange) > 60, "The first suggestion's marker is missing.");
        Assert.True(marked.CountNear(PlotColors.Green, 24) > 60, "The second suggestion's marker is missing.");
        Assert.Equal(0, plain.Count(IsOrange));
        Assert.Equal(0, plain.CountNear(PlotColors.Green, 24));
    }

    [Fact]
    public void Marker_SitsOnTheCurveAtTheSuggestedLearningRate()
    {
        var (lrs, losses) = FinderRun();
        PngProbe Render(double lr) =>
            new(LrFindPlot.ToPng(lrs, losses, [new LrFindMarker("s", lr)], options: new PlotOptions { Title = "" }));
        var earlyProbe = Render(1e-5);
        var earlyDiscs = earlyProbe.Regions(IsOrange, 40).Select(r => r.Bounds).ToList();
        var lateDiscs = Render(1e-2).Regions(IsOrange, 40).Select(r => r.Bounds).ToList();

        // The legend's sample disc is drawn in the same place both times; the disc on the curve moves with the learning rate.
        var legend = Assert.Single(earlyDiscs.Intersect(lateDiscs));
        var early = Assert.Single(earlyDiscs, d => d != legend);
        var late = Assert.Single(lateDiscs, d => d != legend);
        Assert.True(late.MidX - early.MidX > earlyProbe.Width / 4, $"Markers at x={early.MidX} (1e-5) and x={late.MidX} (1e-2).");
        Assert.True(earlyProbe.CountNear(PlotColors.Blue, 20, SKRectI.Inflate(early, 6, 6)) > 0, "The marker is not on the loss curve.");
        Assert.Equal(0, earlyProbe.CountNear(PlotColors.Blue, 20, SKRectI.Inflate(legend, 6, 6)));
    }

    [Fact]
    public void TheLogAxis_IsLabelledAtThePowersOfTen()
    {
        var (lrs, losses) = FinderRun();
        var probe = new PngProbe(LrFindPlot.ToPng(lrs, losses, options: new PlotOptions { Title = "" }));
        var frame = probe.Frame();
        var tickLabels = new SKRectI(frame.Left, frame.Bottom + 8, frame.Right, frame.Bottom + 30);

        if (!PlotColors.FontsInstalled) return;  // CI installs fonts-dejavu-core, so this holds there
        // 1e-7 … 1e-1 over the finder's 1e-7 … 1e0 (the last five iterations hidden): seven labels, read left to right.
        Assert.Equal(7, probe.TextBands(tickLabels, horizontal: false, minimumGap: 12));
        Assert.Equal(2, probe.TextBands(new SKRectI(frame.Left, frame.Bottom + 8, frame.Right, probe.Height), horizontal: true, minimumGap: 4));
    }

    [Fact]
    public void SuggestionLabel_ShowsNameAndValueLikeFastai()
    {
        Assert.Equal("valley: 1.32e-03", new LrFindMarker("valley", 0.00132).Label);
        Assert.Equal("minimum: 2.00e-02", new LrFindMarker("minimum", 0.02).Label);
    }

    [Fact]
    public void LossAt_InterpolatesInLogLearningRate()
    {
        double[] lrs = [1e-4, 1e-3, 1e-2];
        double[] losses = [3.0, 2.0, 1.0];

        Assert.Equal(2.0, LrFindPlot.LossAt(lrs, losses, 1e-3), 12);
        Assert.Equal(1.5, LrFindPlot.LossAt(lrs, losses, Math.Sqrt(1e-3 * 1e-2)), 12);
        Assert.Equal(1.0, LrFindPlot.LossAt(lrs, losses, 1.0), 12); // beyond the curve: its nearest end
    }

    [Fact]
    public void BadInputs_AreRejectedByName()
    {
        Assert.Equal("losses", Assert.Throws<ArgumentException>(() => LrFindPlot.ToPng([1e-3, 1e-2], [1.0])).ParamName);
        var zero = Assert.Throws<ArgumentException>(() => LrFindPlot.ToPng([0.0, 1e-2], [1.0, 0.9]));
        Assert.Equal("learningRates", zero.ParamName);
        Assert.Contains("learningRates[0]", zero.Message);
    }
}
