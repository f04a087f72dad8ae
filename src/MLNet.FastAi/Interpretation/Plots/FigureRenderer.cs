using ScottPlot;
using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Renders one or more ScottPlot plots as a grid of panels in a single PNG, like matplotlib subplots with a suptitle.
/// </summary>
internal static class FigureRenderer
{
    private const double TitleFontSize = 15;

    /// <summary>Height taken by a figure title above the panels; figure sizes include it.</summary>
    public const double TitleBandHeight = 30;

    public static int TitleBand(string? title) => string.IsNullOrEmpty(title) ? 0 : (int)TitleBandHeight;

    /// <summary>Renders the panels (and disposes them) into a PNG of <c>width × scale</c> by <c>height × scale</c> pixels.</summary>
    public static byte[] ToPng(IReadOnlyList<Plot> panels, int columns, int width, int height, double scale, string? title)
    {
        try
        {
            if (panels.Count == 0)
                throw new ArgumentException("A figure needs at least one panel.", nameof(panels));
            columns = Math.Clamp(columns, 1, panels.Count);
            var rows = (panels.Count + columns - 1) / columns;

            using var bitmap = NewWhiteBitmap(width, height, scale, out var canvas);
            using (canvas)
            {
                double top = 0;
                if (!string.IsNullOrEmpty(title))
                {
                    DrawCenteredTitle(canvas, title, width, scale);
                    top = TitleBandHeight;
                }
                // Each panel renders onto its own surface and is placed in the grid: ScottPlot's Multiplot and
                // Plot.Render(canvas, rectangle) paint the figure background over the whole canvas (the title band
                // included) and place panels from the rectangle's size only.
                var cellWidth = (double)width / columns;
                var cellHeight = (height - top) / rows;
                for (var i = 0; i < panels.Count; i++)
                {
                    int left = (int)Math.Round(i % columns * cellWidth * scale), right = (int)Math.Round((i % columns + 1) * cellWidth * scale);
                    int upper = (int)Math.Round((top + i / columns * cellHeight) * scale), lower = (int)Math.Round((top + (i / columns + 1) * cellHeight) * scale);
                    using var surface = SKSurface.Create(new SKImageInfo(Math.Max(1, right - left), Math.Max(1, lower - upper)))
                        ?? throw new InvalidOperationException("SkiaSharp could not allocate a plot panel.");
                    panels[i].ScaleFactor = scale;
                    panels[i].Render(surface.Canvas, right - left, lower - upper);
                    canvas.DrawSurface(surface, left, upper);
                }
            }
            return EncodePng(bitmap);
        }
        finally
        {
            foreach (var panel in panels)
                panel.Dispose();
        }
    }

    internal static SKBitmap NewWhiteBitmap(double width, double height, double scale, out SKCanvas canvas)
    {
        var pixelWidth = Math.Max(1, (int)Math.Round(width * scale));
        var pixelHeight = Math.Max(1, (int)Math.Round(height * scale));
        var bitmap = new SKBitmap(new SKImageInfo(pixelWidth, pixelHeight, SKColorType.Rgba8888, SKAlphaType.Premul));
        canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        return bitmap;
    }

    internal static byte[] EncodePng(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100)
                         ?? throw new InvalidOperationException("SkiaSharp could not encode the figure as PNG.");
        return data.ToArray();
    }

    private static void DrawCenteredTitle(SKCanvas canvas, string title, int width, double scale)
    {
        using var paint = new SKPaint { IsAntialias = true, Color = SKColors.Black };
        using var font = new SKFont(PlotFonts.Typeface(bold: true), (float)(TitleFontSize * scale));
        var baseline = (float)((TitleBandHeight + TitleFontSize * 0.7) / 2 * scale);
        canvas.DrawText(title, (float)(width * scale / 2), baseline, SKTextAlign.Center, font, paint);
    }
}
