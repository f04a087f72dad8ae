using MLNet.FastAi.Internal;
using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Pictures in rows and columns with a title above each, written as PNG: fastai's <c>show_batch</c>,
/// <c>show_results</c> and <c>plot_top_losses</c> figures.
/// </summary>
/// <remarks>
/// Drawn with SkiaSharp directly rather than as ScottPlot image plottables: a grid of pictures has no axes or data
/// coordinates, each tile is drawn pixel for pixel at its own size, and ScottPlot would add a resampling pass and
/// axis frames to hide.
/// </remarks>
internal static class ImageGrid
{
    /// <summary>The figure title fastai puts above top-loss grids.</summary>
    public const string TopLossesTitle = "Prediction/Actual/Loss/Probability";

    private const int Margin = 12;
    private const int Gap = 12;
    private const double MinimumTitleFontSize = 8;

    /// <summary>Renders the tiles as one PNG image.</summary>
    /// <param name="tiles">The pictures, filled row by row.</param>
    /// <param name="options">Columns, tile size, title; <see langword="null"/> for defaults.</param>
    public static byte[] ToPng(IReadOnlyList<ImageTile> tiles, ImageGridOptions? options = null)
    {
        SeriesData.RequireValues(tiles, nameof(tiles), "Tiles");
        for (var i = 0; i < tiles.Count; i++)
        {
            if (tiles[i] is null)
                throw new ArgumentException($"tiles[{i}] is null.", nameof(tiles));
        }
        options ??= new ImageGridOptions();
        options.Validate();

        var columns = Math.Min(options.Columns ?? (int)Math.Ceiling(Math.Sqrt(tiles.Count)), tiles.Count);
        var rows = (tiles.Count + columns - 1) / columns;
        var size = options.TileSize;
        var lineHeight = options.TitleFontSize * 1.3;
        var titleLines = tiles.Max(t => string.IsNullOrEmpty(t.Title) ? 0 : t.Title.Split('\n').Length);
        var titleBand = titleLines == 0 ? 0 : (int)Math.Ceiling(titleLines * lineHeight + 4);
        var figureTitleBand = string.IsNullOrEmpty(options.Title) ? 0 : (int)Math.Ceiling(options.TitleFontSize * 1.4 * 1.6);
        var cellHeight = titleBand + size;
        var width = 2 * Margin + columns * size + (columns - 1) * Gap;
        var height = 2 * Margin + figureTitleBand + rows * cellHeight + (rows - 1) * Gap;

        using var bitmap = FigureRenderer.NewWhiteBitmap(width, height, 1, out var canvas);
        using (canvas)
        using (var text = new SKPaint { IsAntialias = true })
        using (var font = new SKFont(PlotFonts.Typeface()))
        {
            if (figureTitleBand > 0)
            {
                using var bold = new SKFont(PlotFonts.Typeface(bold: true), (float)(options.TitleFontSize * 1.4));
                text.Color = SKColors.Black;
                DrawFittedLine(canvas, text, bold, options.Title!, width / 2f, Margin + figureTitleBand * 0.6f, width - 2 * Margin);
            }
            for (var i = 0; i < tiles.Count; i++)
            {
                var left = Margin + i % columns * (size + Gap);
                var top = Margin + figureTitleBand + i / columns * (cellHeight + Gap);
                var picture = PictureRect(tiles[i], left, top + titleBand, size);
                DrawTitle(canvas, text, font, tiles[i], left + size / 2f, picture.Top, size, lineHeight, options.TitleFontSize);
                DrawPicture(canvas, tiles[i], picture);
            }
        }
        return FigureRenderer.EncodePng(bitmap);
    }

    /// <summary>Writes the tiles as one PNG file.</summary>
    /// <param name="path">The PNG file to write; its folder is created when missing.</param>
    /// <param name="tiles">The pictures, filled row by row.</param>
    /// <param name="options">Columns, tile size, title; <see langword="null"/> for defaults.</param>
    /// <returns>The full path of the written file.</returns>
    public static string Save(string path, IReadOnlyList<ImageTile> tiles, ImageGridOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, ToPng(tiles, options));

    /// <summary>The picture scaled to fit a size × size box, keeping its aspect ratio, centred in it.</summary>
    private static SKRect PictureRect(ImageTile tile, int left, int top, int size)
    {
        var zoom = (float)size / Math.Max(tile.Width, tile.Height);
        var drawnWidth = MathF.Round(tile.Width * zoom);
        var drawnHeight = MathF.Round(tile.Height * zoom);
        return SKRect.Create(left + MathF.Floor((size - drawnWidth) / 2), top + MathF.Floor((size - drawnHeight) / 2), drawnWidth, drawnHeight);
    }

    private static void DrawPicture(SKCanvas canvas, ImageTile tile, SKRect destination)
    {
        var zoom = destination.Width / tile.Width;
        using var bitmap = tile.ToBitmap();
        using var picture = SKImage.FromBitmap(bitmap);
        using var paint = new SKPaint { IsAntialias = false };
        // Enlarged small images keep crisp pixels, as matplotlib shows MNIST; reductions are smoothed.
        var sampling = zoom >= 2 ? new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None) : new SKSamplingOptions(SKCubicResampler.Mitchell);
        canvas.DrawImage(picture, destination, sampling, paint);
    }

    /// <summary>Draws the title lines so the last one sits just above the picture, whatever its aspect ratio.</summary>
    private static void DrawTitle(SKCanvas canvas, SKPaint text, SKFont font, ImageTile tile, float centerX, float pictureTop, int maxWidth, double lineHeight, double fontSize)
    {
        if (string.IsNullOrEmpty(tile.Title))
            return;
        var c = tile.TitleColor;
        text.Color = new SKColor(c.R, c.G, c.B, c.A);
        font.Size = (float)fontSize;
        var lines = tile.Title.Split('\n');
        var top = pictureTop - 4 - (float)(lines.Length * lineHeight);
        for (var line = 0; line < lines.Length; line++)
        {
            var baseline = top + (float)((line + 0.8) * lineHeight);
            DrawFittedLine(canvas, text, font, lines[line], centerX, baseline, maxWidth);
        }
    }

    /// <summary>Shrinks the font (down to a readable minimum), then shortens the line with "…", until it fits.</summary>
    private static void DrawFittedLine(SKCanvas canvas, SKPaint text, SKFont font, string line, float centerX, float baseline, float maxWidth)
    {
        var original = font.Size;
        while (font.MeasureText(line) > maxWidth && font.Size > MinimumTitleFontSize)
            font.Size = Math.Max((float)MinimumTitleFontSize, font.Size - 0.5f);
        if (font.MeasureText(line) > maxWidth)
        {
            var kept = line.Length;
            while (kept > 1 && font.MeasureText(line[..kept] + "…") > maxWidth)
                kept--;
            line = line[..kept] + "…";
        }
        canvas.DrawText(line, centerX, baseline, SKTextAlign.Center, font, text);
        font.Size = original;
    }
}
