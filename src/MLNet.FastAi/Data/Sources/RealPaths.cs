namespace MLNet.FastAi.Data.Sources;

/// <summary>
/// Where paths really lead, with every symbolic link on the way resolved (as <c>realpath</c>): what tells a folder
/// reached twice, or a file listed under two names, from distinct ones.
/// </summary>
internal sealed class RealPaths
{
    // Links may chain or point at each other; deeper than this is a loop of links (Linux's limit is 40).
    private const int MaxLinks = 40;
    private readonly Dictionary<string, string> _folders = new(StringComparer.Ordinal);

    /// <summary>The real path of an existing file or folder.</summary>
    /// <exception cref="IOException">The links on the way form a loop.</exception>
    public string Of(string path)
    {
        string full = Path.GetFullPath(path);
        string? parent = Path.GetDirectoryName(full);
        if (parent is null) return full;
        int links = 0;
        return Resolve(Path.Combine(Folder(parent, ref links), Path.GetFileName(full)), ref links);
    }

    private string Folder(string folder, ref int links)
    {
        if (_folders.TryGetValue(folder, out string? known)) return known;
        string? parent = Path.GetDirectoryName(folder);
        string real = parent is null ? folder : Resolve(Path.Combine(Folder(parent, ref links), Path.GetFileName(folder)), ref links);
        _folders[folder] = real;
        return real;
    }

    /// <summary>Follows <paramref name="path"/> (whose folder is already real) while it is a link.</summary>
    private string Resolve(string path, ref int links)
    {
        while (true)
        {
            FileSystemInfo entry = new FileInfo(path);
            if (entry.LinkTarget is not { } target) return path;
            if (++links > MaxLinks) throw new IOException($"'{path}' leads through more than {MaxLinks} symbolic links (a loop of links).");
            string folder = Path.GetDirectoryName(path)!;
            string next = Path.GetFullPath(target, folder);
            path = Path.GetDirectoryName(next) is { } parent ? Path.Combine(Folder(parent, ref links), Path.GetFileName(next)) : next;
        }
    }
}
