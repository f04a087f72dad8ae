using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

/// <summary>A decoded PNG with the pixel questions the picture tests ask: is it blank, where is a colour, how many regions.</summary>
internal sealed class PngProbe
{
    private readonly SKColor[] _pixels;

    public PngProbe(byte[] png)
    {
        Assert.True(png.Length > 8 && png[0] == 0x89 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G',
            "The bytes do not start with the PNG signature.");
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Width = bitmap.Width;
        Height = bitmap.Height;
        _pixels = bitmap.Pixels;
    }

    public static PngProbe FromFile(string path) => new(File.ReadAllBytes(path));

    public int Width { get; }

    public int Height { get; }

    public SKColor this[int x, int y] => _pixels[y * Width + x];

    public static readonly SKColor White = new(255, 255, 255);

    public int DistinctColors(SKRectI? region = null) => Pixels(region).Select(p => p.color).Distinct().Count();

    public double FractionNot(SKColor background, SKRectI? region = null)
    {
        var all = Pixels(region).ToList();
        return (double)all.Count(p => !Near(p.color, background, 6)) / all.Count;
    }

    public int Count(Func<SKColor, bool> predicate, SKRectI? region = null) => Pixels(region).Count(p => predicate(p.color));

    public int CountNear(SKColor color, int tolerance = 12, SKRectI? region = null) => Count(c => Near(c, color, tolerance), region);

    /// <summary>Bounding box of every pixel matching the predicate; empty when none does.</summary>
    public SKRectI Bounds(Func<SKColor, bool> predicate, SKRectI? region = null)
    {
        int left = int.MaxValue, top = int.MaxValue, right = -1, bottom = -1;
        foreach (var (x, y, color) in Pixels(region))
        {
            if (!predicate(color))
                continue;
            left = Math.Min(left, x);
            top = Math.Min(top, y);
            right = Math.Max(right, x);
            bottom = Math.Max(bottom, y);
        }
        return right < 0 ? SKRectI.Empty : new SKRectI(left, top, right + 1, bottom + 1);
    }

    /// <summary>4-connected regions of matching pixels with at least <paramref name="minimumArea"/> pixels.</summary>
    public List<(SKRectI Bounds, int Area)> Regions(Func<SKColor, bool> predicate, int minimumArea)
    {
        var seen = new bool[_pixels.Length];
        var regions = new List<(SKRectI, int)>();
        var stack = new Stack<int>();
        for (var start = 0; start < _pixels.Length; start++)
        {
            if (seen[start] || !predicate(_pixels[start]))
                continue;
            int area = 0, left = int.MaxValue, top = int.MaxValue, right = -1, bottom = -1;
            seen[start] = true;
            stack.Push(start);
            while (stack.Count > 0)
            {
                var index = stack.Pop();
                int x = index % Width, y = index / Width;
                area++;
                left = Math.Min(left, x); right = Math.Max(right, x);
                top = Math.Min(top, y); bottom = Math.Max(bottom, y);
                foreach (var (nx, ny) in new[] { (x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1) })
                {
                    if (nx < 0 || ny < 0 || nx >= Width || ny >= Height)
                        continue;
                    var next = ny * Width + nx;
                    if (!seen[next] && predicate(_pixels[next]))
                    {
                        seen[next] = true;
                        stack.Push(next);
                    }
                }
            }
            if (area >= minimumArea)
                regions.Add((new SKRectI(left, top, right + 1, bottom + 1), area));
        }
        return regions;
    }

    /// <summary>Dark text: glyphs drawn in black, anti-aliased edges included.</summary>
    public static bool IsInk(SKColor c) => c.Red < 110 && c.Green < 110 && c.Blue < 110;

    /// <summary>
    /// The plot frame: the bounding box of the black lines at least half the picture wide and tall (axis lines, not text).
    /// </summary>
    public SKRectI Frame()
    {
        bool IsLine(SKColor c) => c.Red < 40 && c.Green < 40 && c.Blue < 40;
        var rows = Enumerable.Range(0, Height).Where(y => Enumerable.Range(0, Width).Count(x => IsLine(this[x, y])) > Width / 2).ToList();
        var columns = Enumerable.Range(0, Width).Where(x => Enumerable.Range(0, Height).Count(y => IsLine(this[x, y])) > Height / 2).ToList();
        Assert.True(rows.Count > 0 && columns.Count > 0, "No plot frame was found.");
        return new SKRectI(columns.Min(), rows.Min(), columns.Max() + 1, rows.Max() + 1);
    }

    /// <summary>
    /// Bands of text in a region, read across <paramref name="horizontal"/> lines (rows) or down columns: runs of lines
    /// holding ink, separated by blank ones. Tick labels and an axis title below a plot make two bands of rows.
    /// </summary>
    /// <param name="region">Where to look.</param>
    /// <param name="horizontal">Read rows (bands stacked vertically) rather than columns (bands side by side).</param>
    /// <param name="minimumGap">Blank lines needed between two bands: more than the gaps between one word's glyphs.</param>
    public int TextBands(SKRectI region, bool horizontal, int minimumGap = 1) => TextBandRanges(region, horizontal, minimumGap).Count;

    /// <summary>The bands of <see cref="TextBands"/> as [first, last] line numbers, in order.</summary>
    public List<(int First, int Last)> TextBandRanges(SKRectI region, bool horizontal, int minimumGap = 1)
    {
        var lines = horizontal ? Enumerable.Range(region.Top, region.Height) : Enumerable.Range(region.Left, region.Width);
        var bands = new List<(int First, int Last)>();
        int blank = int.MaxValue;
        foreach (var line in lines)
        {
            var inked = horizontal
                ? Enumerable.Range(region.Left, region.Width).Any(x => IsInk(this[x, line]))
                : Enumerable.Range(region.Top, region.Height).Any(y => IsInk(this[line, y]));
            if (inked && blank >= minimumGap) bands.Add((line, line));
            else if (inked) bands[^1] = (bands[^1].First, line);
            blank = inked ? 0 : blank == int.MaxValue ? blank : blank + 1;
        }
        return bands;
    }

    public static bool Near(SKColor a, SKColor b, int tolerance) =>
        Math.Abs(a.Red - b.Red) <= tolerance && Math.Abs(a.Green - b.Green) <= tolerance && Math.Abs(a.Blue - b.Blue) <= tolerance;

    public static double Luminance(SKColor c) => 0.2126 * c.Red + 0.7152 * c.Green + 0.0722 * c.Blue;

    /// <summary>The image is a real picture: mostly background, but with a fair amount drawn in several colours.</summary>
    public void AssertIsAPicture(int minimumDistinctColors = 8, double minimumInk = 0.01)
    {
        Assert.True(DistinctColors() >= minimumDistinctColors, $"Only {DistinctColors()} distinct colours: the picture looks blank.");
        var ink = FractionNot(White);
        Assert.True(ink >= minimumInk, $"Only {ink:P2} of the pixels differ from the white background.");
        Assert.True(ink < 0.95, $"{ink:P2} of the pixels are not background: the picture looks filled.");
    }

    private IEnumerable<(int x, int y, SKColor color)> Pixels(SKRectI? region)
    {
        var r = region ?? new SKRectI(0, 0, Width, Height);
        for (var y = Math.Max(0, r.Top); y < Math.Min(Height, r.Bottom); y++)
            for (var x = Math.Max(0, r.Left); x < Math.Min(Width, r.Right); x++)
                yield return (x, y, _pixels[y * Width + x]);
    }
}
