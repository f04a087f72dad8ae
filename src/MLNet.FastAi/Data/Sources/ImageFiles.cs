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
    /// <exception cref="InvalidDataException">A class folder holds no image, there are no class folders, or a folder
    /// is reached twice through a link (see <see cref="Recursive"/>).</exception>
    public static List<(string Path, string Label)> ByClassFolder(string folder, string role, ref int skipped)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The {role} folder '{folder}' does not exist.");
        var items = new List<(string, string)>();
        var classFolders = Subfolders(folder);
        if (classFolders.Count == 0)
            throw new InvalidDataException($"The {role} folder '{folder}' has no class subfolders; images must sit in one folder per class (e.g. {Path.Combine(folder, "cat")}).");
        var walk = new FolderWalk();
        // The root's own files are not images of a class, but a link back to it is a loop all the same.
        walk.Enter(folder);
        foreach (var classFolder in classFolders)
        {
            string label = Path.GetFileName(classFolder);
            var files = walk.Images(classFolder, ref skipped);
            if (files.Count == 0)
                throw new InvalidDataException($"The class folder '{classFolder}' holds no images (looked for {string.Join(", ", Extensions.Order())}).");
            items.AddRange(files.Select(f => (f, label)));
        }
        return items;
    }

    /// <summary>
    /// All images under <paramref name="folder"/>, depth-first, sorted within each folder. Links to folders are
    /// followed, once: a folder reached a second time (a link back to a folder that holds it, or two ways into one
    /// folder) is refused by name, since its images would be listed again and again, or under two labels.
    /// </summary>
    /// <exception cref="InvalidDataException">A folder is reached twice.</exception>
    public static List<string> Recursive(string folder, ref int skipped) => new FolderWalk().Images(folder, ref skipped);

    /// <summary>One search through folders: remembers every folder it entered, by real path.</summary>
    private sealed class FolderWalk
    {
        private readonly RealPaths _real = new();
        private readonly Dictionary<string, string> _entered = new(StringComparer.Ordinal);

        /// <summary>Counts <paramref name="folder"/> as searched without listing its files.</summary>
        public void Enter(string folder) => _entered[_real.Of(folder)] = folder;

        public List<string> Images(string folder, ref int skipped)
        {
            var images = new List<string>();
            Walk(folder, images, ref skipped);
            return images;
        }

        private void Walk(string folder, List<string> images, ref int skipped)
        {
            string real;
            try
            {
                real = _real.Of(folder);
            }
            catch (IOException e)
            {
                throw new InvalidDataException($"The folder '{folder}' cannot be searched: {e.Message}", e);
            }
            if (_entered.TryGetValue(real, out string? first))
            {
                bool holdsIt = folder.StartsWith(first.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
                throw new InvalidDataException(holdsIt
                    ? $"The folder '{folder}' is a link back to '{first}', which holds it: following it would list the same images again " +
                      "and again. Remove the link."
                    : $"The folder '{folder}' leads to '{real}', already searched as '{first}': its images would be listed twice (perhaps " +
                      "under two labels). Remove one of the two; a link to a folder outside the dataset is fine.");
            }
            _entered[real] = folder;
            images.AddRange(In(folder, ref skipped));
            foreach (var sub in Subfolders(folder)) Walk(sub, images, ref skipped);
        }
    }

    /// <summary>
    /// Refuses a file listed in two roles (training and validation would share it and inflate the validation metric)
    /// or under two labels, whether by the same name or through links. A file repeated in one role with one label is
    /// kept (given splits may oversample on purpose); a random split may put the copies of a repeated file on both sides.
    /// </summary>
    /// <param name="items">Each image file, the role it was listed in (e.g. "training") and its label (null: none).</param>
    /// <exception cref="InvalidDataException">A file is listed twice in conflict; both listings are named.</exception>
    public static void RefuseDuplicates(IEnumerable<(string Path, string Role, string? Label)> items)
    {
        var real = new RealPaths();
        var seen = new Dictionary<string, (string Path, string Role, string? Label)>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            string key;
            try
            {
                key = real.Of(item.Path);
            }
            catch (IOException)
            {
                // A loop of links: the decoder cannot read it either, and its header check names the file.
                continue;
            }
            if (!seen.TryGetValue(key, out var first))
            {
                seen[key] = item;
                continue;
            }
            if (first.Role != item.Role)
                throw new InvalidDataException(
                    $"The image '{key}' is listed twice: as '{first.Path}' ({first.Role}) and as '{item.Path}' ({item.Role}), so " +
                    $"{first.Role} and {item.Role} would share it. Remove the duplicate (or the link to it); a file repeated on purpose in a list " +
                    "that is split at random lands on both sides, so list it once.");
            if (first.Label != item.Label)
                throw new InvalidDataException(
                    $"The image '{key}' is listed twice with two labels: as '{first.Path}' ('{first.Label}') and as '{item.Path}' " +
                    $"('{item.Label}') in the {item.Role} set. Remove the duplicate (or the link to it).");
        }
    }
}
