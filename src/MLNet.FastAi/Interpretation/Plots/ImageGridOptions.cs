namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>Layout of an <see cref="ImageGrid"/>.</summary>
public sealed record ImageGridOptions
{
    /// <summary>Tiles per row; <see langword="null"/> makes the grid as square as possible (3 × 3 for 9 tiles, like fastai).</summary>
    public int? Columns { get; init; }

    /// <summary>
    /// The longest side of every picture in pixels. Pictures are scaled to it keeping their aspect ratio, so 28 × 28
    /// digits come out large and sharp (nearest-neighbour when enlarged two times or more) and photos are reduced smoothly.
    /// </summary>
    public int TileSize { get; init; } = 160;

    /// <summary>Title font size in pixels; long titles are shrunk, then shortened with "…", to fit their tile.</summary>
    public double TitleFontSize { get; init; } = 13;

    /// <summary>Figure title above the grid (for example <see cref="ImageGrid.TopLossesTitle"/>); none when null.</summary>
    public string? Title { get; init; }

    internal void Validate()
    {
        if (Columns is <= 0)
            throw new ArgumentOutOfRangeException(nameof(Columns), Columns, "ImageGridOptions.Columns must be positive.");
        if (TileSize is < 8 or > 4096)
            throw new ArgumentOutOfRangeException(nameof(TileSize), TileSize, "ImageGridOptions.TileSize must be between 8 and 4096 pixels.");
        if (!(TitleFontSize >= 4 && TitleFontSize <= 200))
            throw new ArgumentOutOfRangeException(nameof(TitleFontSize), TitleFontSize, "ImageGridOptions.TitleFontSize must be between 4 and 200.");
    }
}
