using OxyPlot;
using OxyPlot.SkiaSharp;
using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Renders one or more OxyPlot models as panels of a single PNG figure, like matplotlib subplots with a suptitle.
/// OxyPlot's own <c>PngExporter</c> handles one model only, so panels are drawn here onto one Skia canvas.
/// </summary>
internal static class FigureRenderer
{
    private const double TitleFontSize = 15;

    /// <summary>Height taken by a figure title above the panels; figure sizes include it.</summary>
    public const double TitleBandHeight = 30;

    public static int TitleBand(string? title) => string.IsNullOrEmpty(title) ? 0 : (int)TitleBandHeight;

    public static byte[] ToPng(IReadOnlyList<PlotModel> panels, int columns, int width, int height, double scale, string? title)
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

            var cellWidth = (double)width / columns;
            var cellHeight = (height - top) / rows;
            using var context = new SkiaRenderContext
            {
                RenderTarget = RenderTarget.PixelGraphic,
                SkCanvas = canvas,
                DpiScale = (float)scale,
                UseTextShaping = PlotFonts.HasGlyphs,
            };
            for (var i = 0; i < panels.Count; i++)
            {
                var x = i % columns * cellWidth;
                var y = top + i / columns * cellHeight;
                canvas.Save();
                canvas.Translate((float)(x * scale), (float)(y * scale));
                IPlotModel model = panels[i];
                model.Update(updateData: true);
                model.Render(context, new OxyRect(0, 0, cellWidth, cellHeight));
                canvas.Restore();
            }
        }
        return EncodePng(bitmap);
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
