using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class SchedulePlotTests
{
    [Fact]
    public void LearningRateAndMomentum_AreDrawnInTwoSideBySidePanels()
    {
        var lrs = PlotColors.OneCycle(200, 1e-3);
        var moms = lrs.Select(lr => 0.95 - 0.1 * lr / 1e-3).ToArray();

        var probe = new PngProbe(SchedulePlot.ToPng(lrs, moms));

        Assert.Equal((int)Math.Round(960 * 1.5), probe.Width);
        Assert.Equal((int)Math.Round((340 + 30) * 1.5), probe.Height);
        probe.AssertIsAPicture();
        var left = new SKRectI(0, 0, probe.Width / 2, probe.Height);
        var right = new SKRectI(probe.Width / 2, 0, probe.Width, probe.Height);
        Assert.True(probe.CountNear(PlotColors.Blue, region: left) > 300, "The learning-rate curve is missing from the left panel.");
        Assert.True(probe.CountNear(PlotColors.Blue, region: right) > 300, "The momentum curve is missing from the right panel.");
    }

    [Fact]
    public void LearningRateOnly_FillsOnePanel()
    {
        var probe = new PngProbe(SchedulePlot.ToPng(PlotColors.OneCycle(100, 0.01)));

        Assert.Equal((int)Math.Round(480 * 1.5), probe.Width);
        probe.AssertIsAPicture();
        Assert.True(probe.CountNear(PlotColors.Blue) > 300);
    }

    [Fact]
    public void CurvePeak_MovesWithTheWarmUpLength()
    {
        // The highest point of the drawn curve must sit where the schedule peaks: early warm-up left, late warm-up right.
        double PeakX(double warmup)
        {
            var probe = new PngProbe(SchedulePlot.ToPng(PlotColors.OneCycle(300, 1e-3, warmup), options: new PlotOptions { Title = "" }));
            var curve = probe.Bounds(c => PngProbe.Near(c, PlotColors.Blue, 12));
            var topRow = new SKRectI(curve.Left, curve.Top, curve.Right, curve.Top + 2);
            var peak = probe.Bounds(c => PngProbe.Near(c, PlotColors.Blue, 12), topRow);
            return (peak.Left + peak.Right) / 2.0 / probe.Width;
        }

        var early = PeakX(0.1);
        var late = PeakX(0.8);
        Assert.True(late - early > 0.4, $"Peak at {early:F2} of the width for a 10% warm-up and {late:F2} for 80%.");
    }

    [Fact]
    public void Save_WritesTheSamePngAndReturnsTheFullPath()
    {
        using var folder = new TemporaryFolder();
        var lrs = PlotColors.OneCycle(50, 1e-3);

        var path = SchedulePlot.Save(Path.Combine(folder.Path, "nested", "sched.png"), lrs);

        Assert.Equal(Path.GetFullPath(Path.Combine(folder.Path, "nested", "sched.png")), path);
        Assert.Equal(SchedulePlot.ToPng(lrs), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left behind
    }

    [Fact]
    public void EmptyLearningRates_AreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => SchedulePlot.ToPng(Array.Empty<double>()));
        Assert.Equal("learningRates", error.ParamName);
    }
}
