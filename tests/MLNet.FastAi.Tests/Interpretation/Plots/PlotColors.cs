using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

/// <summary>matplotlib's tab10 colours the plots draw with, and shared sample data.</summary>
internal static class PlotColors
{
    public static readonly SKColor Blue = new(0x1f, 0x77, 0xb4);
    public static readonly SKColor Orange = new(0xff, 0x7f, 0x0e);
    public static readonly SKColor Green = new(0x2c, 0xa0, 0x2c);
    public static readonly SKColor Red = new(0xd6, 0x27, 0x28);
    public static readonly SKColor Purple = new(0x94, 0x67, 0xbd);
    public static readonly SKColor Brown = new(0x8c, 0x56, 0x4b);

    /// <summary>True when this machine has a font, so text can be asserted; CI installs Debian's fonts-dejavu-core.</summary>
    public static bool FontsInstalled => MLNet.FastAi.Interpretation.Plots.PlotFonts.HasGlyphs;

    /// <summary>A one-cycle learning rate: cosine warm-up to the peak over the first quarter, cosine annealing after.</summary>
    public static double[] OneCycle(int iterations, double peak, double warmupFraction = 0.25)
    {
        var values = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var p = (double)i / iterations;
            values[i] = p < warmupFraction
                ? peak / 25 + (peak - peak / 25) * (1 - Math.Cos(Math.PI * p / warmupFraction)) / 2
                : peak * (1 + Math.Cos(Math.PI * (p - warmupFraction) / (1 - warmupFraction))) / 2;
        }
        return values;
    }
}
