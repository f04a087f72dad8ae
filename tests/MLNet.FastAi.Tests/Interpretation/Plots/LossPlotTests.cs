using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class LossPlotTests
{
    private static double[] DecayingLosses(int count) => Enumerable.Range(0, count).Select(i => 0.3 + 2.0 * Math.Exp(-i / 40.0)).ToArray();

    [Fact]
    public void TrainAndValidationLosses_AreBothDrawn()
    {
        var train = DecayingLosses(120);

        var probe = new PngProbe(LossPlot.ToPng(train, [40, 80, 120], [1.0, 0.6, 0.45]));

        Assert.Equal(960, probe.Width);
        Assert.Equal(630, probe.Height); // figure sizes include the title
        probe.AssertIsAPicture();
        Assert.True(probe.CountNear(PlotColors.Blue) > 300, "The training curve is missing.");
        Assert.True(probe.CountNear(PlotColors.Orange) > 100, "The validation curve is missing.");
    }

    [Fact]
    public void AxisTitlesAndTickLabels_AreWrittenOutsideTheFrame()
    {
        var probe = new PngProbe(LossPlot.ToPng(DecayingLosses(120), options: new PlotOptions { Title = "" }));
        var frame = probe.Frame();
        const int tickLength = 8;
        var below = new SKRectI(frame.Left, frame.Bottom + tickLength, frame.Right, probe.Height);
        var left = new SKRectI(0, frame.Top, frame.Left - tickLength, frame.Bottom);

        Assert.True(frame.Width > probe.Width / 2 && frame.Height > probe.Height / 2, $"frame {frame}");
        if (!PlotColors.FontsInstalled) return;  // CI installs fonts-dejavu-core, so this holds there
        // Below: the iteration numbers, then "Iteration"; to the left: "Loss" (turned), then the loss values.
        Assert.Equal(2, probe.TextBands(below, horizontal: true, minimumGap: 4));
        Assert.Equal(2, probe.TextBands(left, horizontal: false, minimumGap: 4));
        // A plot with a figure title has one more band above the frame.
        var titled = new PngProbe(LossPlot.ToPng(DecayingLosses(120)));
        Assert.Equal(1, titled.TextBands(new SKRectI(0, 0, titled.Width, titled.Frame().Top - 2), horizontal: true, minimumGap: 4));
    }

    [Fact]
    public void WithoutValidationLosses_OnlyTheTrainingCurveIsDrawn()
    {
        var probe = new PngProbe(LossPlot.ToPng(DecayingLosses(120)));

        Assert.True(probe.CountNear(PlotColors.Blue) > 300);
        Assert.Equal(0, probe.CountNear(PlotColors.Orange, 30));
    }

    [Fact]
    public void ValidationPoints_SitAtTheEndOfTheirEpochs()
    {
        // One validation point at the last iteration of a single epoch lands at the right end of the curve.
        var train = DecayingLosses(100);
        var probe = new PngProbe(LossPlot.ToPng(train, [100], [0.3], options: new PlotOptions { Title = "" }));

        var curve = probe.Bounds(c => PngProbe.Near(c, PlotColors.Blue, 12));
        var marker = probe.Regions(c => PngProbe.Near(c, PlotColors.Orange, 40), 20)
            .Where(r => r.Bounds.Left > curve.Left + curve.Width / 2) // the legend's sample line sits top right too; the marker is on the curve's end
            .OrderByDescending(r => r.Bounds.Bottom).First();
        Assert.InRange((marker.Bounds.Left + marker.Bounds.Right) / 2, curve.Right - 12, curve.Right + 12);
    }

    [Fact]
    public void SkipStart_HidesTheNoisyFirstIterations()
    {
        // A spike in the first five iterations flattens the rest of the curve unless it is skipped.
        var train = Enumerable.Range(0, 100).Select(i => i < 5 ? 50.0 : 2.0 - i / 100.0).ToArray();

        double BottomBandShare(int skipStart)
        {
            var probe = new PngProbe(LossPlot.ToPng(train, skipStart: skipStart, options: new PlotOptions { Title = "" }));
            bool IsCurve(SKColor c) => PngProbe.Near(c, PlotColors.Blue, 12);
            var curve = probe.Bounds(IsCurve);
            var bottomBand = new SKRectI(0, curve.Bottom - curve.Height / 7, probe.Width, curve.Bottom);
            return (double)probe.Count(IsCurve, bottomBand) / probe.Count(IsCurve);
        }

        Assert.True(BottomBandShare(LossPlot.DefaultSkipStart) < 0.3, "With the spike skipped the descending line spans the plot.");
        Assert.True(BottomBandShare(0) > 0.6, "With the spike shown the rest of the curve is squashed to the bottom.");
    }

    [Fact]
    public void MismatchedEpochData_IsRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => LossPlot.ToPng(DecayingLosses(30), [10, 20], [1.0, 0.8, 0.7]));
        Assert.Equal("epochEndIterations", error.ParamName);
        Assert.Contains("one per epoch", error.Message);

        var beyond = Assert.Throws<ArgumentException>(() => LossPlot.ToPng(DecayingLosses(30), [10, 40], [1.0, 0.8]));
        Assert.Contains("epochEndIterations[1] = 40", beyond.Message);
    }

    [Fact]
    public void ShortRuns_StillPlot()
    {
        var probe = new PngProbe(LossPlot.ToPng([2.0, 1.5, 1.2], [3], [1.1]));
        probe.AssertIsAPicture();
    }
}
