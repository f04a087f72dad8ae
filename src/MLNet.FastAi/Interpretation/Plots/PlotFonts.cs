using SkiaSharp;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Picks a sans-serif family that exists on this machine. Skia's own fallback on Linux is whichever family it
/// scanned first (often "DejaVu Math TeX Gyre"), ScottPlot's default is the system's first family (DejaVu Serif on
/// Debian), and a machine with no fonts at all yields an empty typeface that draws nothing but never fails; Debian's
/// <c>fonts-dejavu-core</c> package gives the intended look.
/// </summary>
internal static class PlotFonts
{
    private static readonly string[] PreferredFamilies =
    [
        "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica", "Segoe UI", "FreeSans", "Roboto",
    ];

    private static readonly Lazy<string> LazyFamily = new(ResolveFamily);

    /// <summary>The family name given to ScottPlot and used for figure and image-grid titles.</summary>
    public static string Family => LazyFamily.Value;

    private static readonly Lazy<SKTypeface> LazyRegular = new(() => Load(SKFontStyle.Normal));
    private static readonly Lazy<SKTypeface> LazyBold = new(() => Load(SKFontStyle.Bold));

    /// <summary>False on a machine without fonts, where text draws nothing (tests assert text only when this is true).</summary>
    public static bool HasGlyphs => Typeface().GlyphCount > 0;

    /// <summary>Shared typefaces for Skia-drawn text; kept for the process lifetime, never disposed.</summary>
    public static SKTypeface Typeface(bool bold = false) => bold ? LazyBold.Value : LazyRegular.Value;

    private static SKTypeface Load(SKFontStyle style) => SKTypeface.FromFamilyName(Family, style) ?? SKTypeface.Default;

    private static string ResolveFamily()
    {
        var manager = SKFontManager.Default;
        foreach (var family in PreferredFamilies)
        {
            using var match = manager.MatchFamily(family);
            if (match is not null && match.GlyphCount > 0)
                return family;
        }
        var installed = manager.FontFamilies.FirstOrDefault(f => f.Contains("Sans", StringComparison.OrdinalIgnoreCase))
                        ?? manager.FontFamilies.FirstOrDefault();
        return installed ?? SKTypeface.Default.FamilyName ?? string.Empty;
    }
}
