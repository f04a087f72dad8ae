namespace MLNet.FastAi.Data.Sources;

/// <summary>Finds image files the way fastai's <c>get_image_files</c> does: by extension, skipping hidden entries.</summary>
internal static class ImageFiles
{
    /// <summary>Extensions the decoder (SkiaSharp, through ML.NET ImageAnalytics) reads.</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ico", ".wbmp" };

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path));

    private static bool IsHidden(string name) => name.StartsWith('.');

    /// <summary>Image files directly in <paramref name="folder"/>, sorted; <paramref name="skipped"/> counts other files.</summary>
    public static List<string> In(string folder, ref int skipped)
    {
        var images = new List<string>();
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            if (IsHidden(Path.GetFileName(file))) continue;
            if (IsImage(file)) images.Add(file);
            else skipped++;
        }
        images.Sort(StringComparer.Ordinal);
        return images;
    }

    /// <summary>Visible subfolders, sorted by name.</summary>
    public static List<string> Subfolders(string folder) =>
        Directory.EnumerateDirectories(folder).Where(d => !IsHidden(Path.GetFileName(d))).OrderBy(d => d, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Labelled images of a folder whose subfolders are classes (label = parent folder name, fastai's
    /// <c>parent_label</c>). Images nested deeper take the name of their top-level class folder.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">A class folder holds no image, or there are no class folders.</exception>
    public static List<(string Path, string Label)> ByClassFolder(string folder, string role, ref int skipped)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The {role} folder '{folder}' does not exist.");
        var items = new List<(string, string)>();
        var classFolders = Subfolders(folder);
        if (classFolders.Count == 0)
            throw new InvalidDataException($"The {role} folder '{folder}' has no class subfolders; images must sit in one folder per class (e.g. {Path.Combine(folder, "cat")}).");
        foreach (var classFolder in classFolders)
        {
            string label = Path.GetFileName(classFolder);
            var files = Recursive(classFolder, ref skipped);
            if (files.Count == 0)
                throw new InvalidDataException($"The class folder '{classFolder}' holds no images (looked for {string.Join(", ", Extensions.Order())}).");
            items.AddRange(files.Select(f => (f, label)));
        }
        return items;
    }

    /// <summary>All images under <paramref name="folder"/>, depth-first, sorted within each folder.</summary>
    public static List<string> Recursive(string folder, ref int skipped)
    {
        var images = In(folder, ref skipped);
        foreach (var sub in Subfolders(folder)) images.AddRange(Recursive(sub, ref skipped));
        return images;
    }
}
