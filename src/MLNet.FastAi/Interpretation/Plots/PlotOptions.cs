namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Size, pixel density and title of a rendered plot. Every property has a sensible per-plot default, so
/// <c>new PlotOptions()</c> (or passing <see langword="null"/>) gives the same picture as fastai's defaults.
/// </summary>
public sealed record PlotOptions
{
    /// <summary>Figure width in layout units; <see langword="null"/> lets the plot choose (about 640 per panel).</summary>
    public int? Width { get; init; }

    /// <summary>Figure height in layout units; <see langword="null"/> lets the plot choose.</summary>
    public int? Height { get; init; }

    /// <summary>
    /// Pixels per layout unit. The PNG is <c>Width × Scale</c> by <c>Height × Scale</c> pixels; the default 1.5 keeps
    /// text crisp in reports and notebooks.
    /// </summary>
    public double Scale { get; init; } = 1.5;

    /// <summary>Figure title; <see langword="null"/> uses the plot's own title, an empty string shows none.</summary>
    public string? Title { get; init; }

    internal void Validate()
    {
        if (Width is <= 0 or > 20_000)
            throw new ArgumentOutOfRangeException(nameof(Width), Width, "PlotOptions.Width must be between 1 and 20000.");
        if (Height is <= 0 or > 20_000)
            throw new ArgumentOutOfRangeException(nameof(Height), Height, "PlotOptions.Height must be between 1 and 20000.");
        if (!(Scale > 0 && Scale <= 8))
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale, "PlotOptions.Scale must be in (0, 8].");
    }

    internal string ResolveTitle(string defaultTitle) => Title ?? defaultTitle;
}
