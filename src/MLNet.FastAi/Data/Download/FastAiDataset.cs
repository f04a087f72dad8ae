namespace MLNet.FastAi.Data.Download;

/// <summary>
/// A downloadable dataset archive: where it is published, how to check the download, and the folder it
/// extracts to under the fastai data directory.
/// </summary>
/// <remarks>The well-known fastai datasets are listed in <see cref="FastAiUrls"/>.</remarks>
public sealed class FastAiDataset
{
    /// <summary>Describes a dataset archive.</summary>
    /// <param name="name">A short name used in messages, such as <c>MNIST</c>.</param>
    /// <param name="url">Where the archive is downloaded from (http or https).</param>
    /// <param name="expectedSize">The archive's size in bytes, or <see langword="null"/> when unknown.</param>
    /// <param name="md5">The archive's MD5 as 32 hexadecimal digits, or <see langword="null"/> when unknown.</param>
    /// <param name="folderName">The folder under the data directory that receives the extracted files.</param>
    public FastAiDataset(string name, Uri url, long? expectedSize, string? md5, string folderName)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A dataset needs a name.", nameof(name));
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"Dataset '{name}': URL '{url}' must be an absolute http or https address.", nameof(url));
        if (expectedSize is <= 0)
            throw new ArgumentOutOfRangeException(nameof(expectedSize), $"Dataset '{name}': expected size must be positive, got {expectedSize}.");
        if (md5 is not null && (md5.Length != 32 || !md5.All(Uri.IsHexDigit)))
            throw new ArgumentException($"Dataset '{name}': MD5 '{md5}' is not 32 hexadecimal digits.", nameof(md5));
        if (!IsPlainFolderName(folderName))
            throw new ArgumentException($"Dataset '{name}': folder name '{folderName}' must be a single folder name without path separators.", nameof(folderName));

        Name = name;
        Url = url;
        ExpectedSize = expectedSize;
        Md5 = md5?.ToLowerInvariant();
        FolderName = folderName;
        ArchiveFileName = ArchiveFileNameOf(url)
            ?? throw new ArgumentException($"Dataset '{name}': URL '{url}' does not end in a file name.", nameof(url));
    }

    /// <summary>A short name used in messages, such as <c>MNIST</c>.</summary>
    public string Name { get; }

    /// <summary>Where the archive is downloaded from.</summary>
    public Uri Url { get; }

    /// <summary>The archive's size in bytes, when known; a download of another size is rejected.</summary>
    public long? ExpectedSize { get; }

    /// <summary>The archive's MD5 in lower-case hexadecimal, when known; a download with another digest is rejected.</summary>
    public string? Md5 { get; }

    /// <summary>The folder under the data directory that receives the extracted files.</summary>
    public string FolderName { get; }

    /// <summary>The archive's file name in the archive directory: the last segment of <see cref="Url"/>.</summary>
    public string ArchiveFileName { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Url})";

    /// <summary>
    /// Describes an archive known only by its address: no size or MD5 to check, and a folder named after the
    /// archive without its extension, the way fastai names it.
    /// </summary>
    internal static FastAiDataset FromUrl(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var fileName = url.IsAbsoluteUri ? ArchiveFileNameOf(url) : null;
        if (fileName is null)
            throw new ArgumentException($"Cannot name a dataset after URL '{url}': it must be absolute and end in an archive file name.", nameof(url));
        var folder = StripArchiveExtension(fileName);
        return new FastAiDataset(folder, url, expectedSize: null, md5: null, folder);
    }

    internal static string StripArchiveExtension(string fileName)
    {
        foreach (var extension in new[] { ".tar.gz", ".tgz", ".tar", ".zip", ".gz" })
        {
            if (fileName.Length > extension.Length && fileName.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                return fileName[..^extension.Length];
        }
        return fileName;
    }

    private static string? ArchiveFileNameOf(Uri url)
    {
        var last = Uri.UnescapeDataString(url.AbsolutePath.Split('/').Last());
        return IsPlainFolderName(last) ? last : null;
    }

    private static bool IsPlainFolderName(string? name) =>
        !string.IsNullOrWhiteSpace(name) && name != "." && name != ".." &&
        name.IndexOfAny(['/', '\\', ':']) < 0 && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0;
}
