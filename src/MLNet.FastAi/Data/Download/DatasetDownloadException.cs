namespace MLNet.FastAi.Data.Download;

/// <summary>
/// A dataset archive could not be downloaded, or what was downloaded was not the expected archive.
/// The message names the address, what went wrong, and where to put the archive by hand.
/// </summary>
public sealed class DatasetDownloadException : IOException
{
    internal DatasetDownloadException(string message, Uri url, string archivePath, Exception? inner = null)
        : base(message, inner)
    {
        Url = url;
        ArchivePath = archivePath;
    }

    /// <summary>The address the archive was requested from.</summary>
    public Uri Url { get; }

    /// <summary>Where the archive belongs on this machine; copying it there by hand skips the download.</summary>
    public string ArchivePath { get; }
}

/// <summary>An archive entry would land outside the extraction folder, or is of a kind that is not extracted.</summary>
public sealed class UnsafeArchiveEntryException : IOException
{
    internal UnsafeArchiveEntryException(string archivePath, string entryName, string reason)
        : base($"Refusing to extract archive '{archivePath}': entry '{entryName}' {reason}.")
    {
        ArchivePath = archivePath;
        EntryName = entryName;
    }

    /// <summary>The archive that holds the entry.</summary>
    public string ArchivePath { get; }

    /// <summary>The entry's name as stored in the archive.</summary>
    public string EntryName { get; }
}
