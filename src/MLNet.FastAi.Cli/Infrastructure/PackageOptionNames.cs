namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>The library's messages and log lines name its options (ImageDataOptions.ImageSize); this tool's users set flags.</summary>
internal static class PackageOptionNames
{
    /// <summary>Library option names as this tool spells them; longer names first, so none is a prefix of a later one.</summary>
    private static readonly (string Package, string Option)[] Names =
    {
        ("ImageDataOptions.CacheFolder", "--cache-dir"), ("ImageDataOptions.CacheSizeLimit", "--cache-limit"), ("ImageDataOptions.MaxImagePixels", "--max-image-pixels"),
        ("ImageDataOptions.Cache", "--cache"), ("ImageDataOptions.ImageSize", "--image-size"),
        ("ImageDataOptions.ItemSize", "--item-size"), ("ImageDataOptions.BatchSize", "--batch-size"), ("ImageDataOptions.Resize", "--resize"), ("ImageDataOptions.MemoryBudget", "the memory budget"),
    };

    /// <summary><paramref name="text"/> with the library's option names replaced by this tool's.</summary>
    public static string AsCliOptions(string text)
    {
        foreach (var (package, option) in Names) text = text.Replace(package, option, StringComparison.Ordinal);
        return text;
    }
}
