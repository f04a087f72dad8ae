namespace MLNet.FastAi.Data.Download;

/// <summary>
/// Writes archive entries under one folder and refuses any entry that would land outside it.
/// </summary>
/// <remarks>
/// Links are the subtle part: a symbolic link that is harmless on its own can redirect a later entry, or another
/// link, out of the folder. So files and folders are written first, while no link exists yet; hard links become
/// copies; symbolic links are created last, each only if its target, resolved from the link's own folder,
/// stays inside the folder without passing through another link.
/// </remarks>
internal sealed class ExtractionFolder
{
    private readonly string _root;
    private readonly string _archivePath;
    // Case-insensitive so that a differently cased name cannot slip past the link checks on Windows or macOS.
    private readonly Dictionary<string, (string Target, string EntryName)> _symbolicLinks = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Name, string Target, string EntryName)> _hardLinks = [];
    private readonly HashSet<string> _topLevelNames = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _topLevelNonFolders = new(StringComparer.OrdinalIgnoreCase);
    private int _minimumDepth;

    public string ArchivePath => _archivePath;

    public ExtractionFolder(string root, string archivePath)
    {
        _root = Path.GetFullPath(root);
        _archivePath = archivePath;
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// The folder holding the dataset once every entry is written: the archive's single top-level folder when it
    /// has one, as fastai's archives do, else the extraction folder itself.
    /// </summary>
    public string ContentFolder => SingleTopLevelFolder() is { } top ? FullPath(top) : _root;

    public void AddDirectory(string entryName)
    {
        var relative = Relative(entryName);
        if (relative.Length == 0) return;
        Note(relative, isFolder: true);
        Directory.CreateDirectory(FullPath(relative));
    }

    public async Task AddFileAsync(string entryName, Stream? content, CancellationToken ct)
    {
        var relative = RelativeNonEmpty(entryName);
        Note(relative, isFolder: false);
        var path = FullPath(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        if (content is not null) await content.CopyToAsync(file, ct).ConfigureAwait(false);
    }

    public void AddSymbolicLink(string entryName, string target)
    {
        var relative = RelativeNonEmpty(entryName);
        if (string.IsNullOrEmpty(target)) throw Refuse(entryName, "is a symbolic link without a target");
        if (IsRooted(target)) throw Refuse(entryName, $"is a symbolic link to the absolute path '{target}'");
        Note(relative, isFolder: false);
        _symbolicLinks[relative] = (target, entryName);
    }

    public void AddHardLink(string entryName, string target)
    {
        var relative = RelativeNonEmpty(entryName);
        if (string.IsNullOrEmpty(target)) throw Refuse(entryName, "is a hard link without a target");
        if (IsRooted(target)) throw Refuse(entryName, $"is a hard link to the absolute path '{target}'");
        // Hard link targets name archive members, so they resolve from the archive's root.
        string targetRelative = ResolveInside(entryName, [], target, "is a hard link to", forLink: false);
        Note(relative, isFolder: false);
        _hardLinks.Add((relative, targetRelative, entryName));
    }

    /// <summary>Creates the links collected so far; call once, after every other entry is written.</summary>
    public void CompleteLinks()
    {
        // The single top-level folder becomes the dataset folder, so links must not climb above it either.
        _minimumDepth = SingleTopLevelFolder() is null ? 0 : 1;

        foreach (var (name, target, entryName) in _hardLinks)
        {
            var source = FullPath(target);
            if (_symbolicLinks.ContainsKey(target) || !File.Exists(source))
                throw Refuse(entryName, $"is a hard link to '{target}', which is not a file extracted from this archive");
            var destination = FullPath(name);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(source, destination, overwrite: true);
        }

        foreach (var (name, (target, entryName)) in _symbolicLinks)
        {
            var segments = name.Split('/');
            for (int i = 1; i < segments.Length; i++)
            {
                if (_symbolicLinks.ContainsKey(string.Join('/', segments, 0, i)))
                    throw Refuse(entryName, "lies inside another symbolic link's folder");
            }
            var resolved = ResolveInside(entryName, segments[..^1], target, "is a symbolic link to", forLink: true);
            var path = FullPath(name);
            if (File.Exists(path) || Directory.Exists(path))
                throw Refuse(entryName, "is a symbolic link whose name another entry already uses");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (Directory.Exists(resolved.Length == 0 ? _root : FullPath(resolved))) Directory.CreateSymbolicLink(path, target);
            else File.CreateSymbolicLink(path, target);
        }
    }

    /// <summary>Resolves a link target segment by segment from <paramref name="start"/>, the way the file system will.</summary>
    private string ResolveInside(string entryName, string[] start, string target, string what, bool forLink)
    {
        var parts = new List<string>(start);
        var segments = target.Replace('\\', '/').Split('/').Where(s => s.Length > 0 && s != ".").ToArray();
        for (int i = 0; i < segments.Length; i++)
        {
            if (segments[i] == "..")
            {
                if (parts.Count <= _minimumDepth) throw Refuse(entryName, $"{what} '{target}', outside the extraction folder");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(segments[i]);
            // A link's last segment may name another link; only a link crossed as a folder could lead outside.
            if (forLink && i < segments.Length - 1 && _symbolicLinks.ContainsKey(string.Join('/', parts)))
                throw Refuse(entryName, $"{what} '{target}', which passes through another symbolic link");
        }
        if (parts.Count == 0 && !forLink) throw Refuse(entryName, $"{what} '{target}', which is not a file");
        return string.Join('/', parts);
    }

    private void Note(string relative, bool isFolder)
    {
        var slash = relative.IndexOf('/');
        var top = slash < 0 ? relative : relative[..slash];
        _topLevelNames.Add(top);
        if (slash < 0 && !isFolder) _topLevelNonFolders.Add(top);
    }

    private string? SingleTopLevelFolder() =>
        _topLevelNames.Count == 1 && _topLevelNames.First() is var top && !_topLevelNonFolders.Contains(top) ? top : null;

    private string RelativeNonEmpty(string entryName)
    {
        var relative = Relative(entryName);
        if (relative.Length == 0) throw Refuse(entryName, "has no file name");
        return relative;
    }

    /// <summary>The entry's path relative to the root with '/' separators, refusing absolute and escaping names.</summary>
    private string Relative(string entryName)
    {
        if (IsRooted(entryName)) throw Refuse(entryName, "has an absolute path");
        var parts = new List<string>();
        foreach (var segment in entryName.Replace('\\', '/').Split('/'))
        {
            if (segment.Length == 0 || segment == ".") continue;
            if (segment == "..")
            {
                if (parts.Count == 0) throw Refuse(entryName, "would be written outside the extraction folder");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            if (segment.IndexOf('\0') >= 0 || (OperatingSystem.IsWindows() && segment.Contains(':')))
                throw Refuse(entryName, "has a name this system cannot store");
            parts.Add(segment);
        }
        return string.Join('/', parts);
    }

    private string FullPath(string relative)
    {
        var path = Path.GetFullPath(Path.Combine(_root, relative.Replace('/', Path.DirectorySeparatorChar)));
        // Belt and braces: the lexical checks above should make this impossible.
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw Refuse(relative, "would be written outside the extraction folder");
        return path;
    }

    private static bool IsRooted(string name) =>
        name.StartsWith('/') || name.StartsWith('\\') || Path.IsPathRooted(name) ||
        (name.Length >= 2 && char.IsAsciiLetter(name[0]) && name[1] == ':');

    private UnsafeArchiveEntryException Refuse(string entryName, string reason) => new(_archivePath, entryName, reason);
}
