using System.IO.Compression;

namespace MLNet.FastAi.Internal.Zip;

/// <summary>Opens zips whose damage must be reported as the file's, not as a bare zip-library message.</summary>
internal static class CheckedZip
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading and reads its central directory now: <see cref="ZipArchive"/> does
    /// so lazily, on the first look at <see cref="ZipArchive.Entries"/>, so a damaged directory would otherwise throw
    /// later, from whatever code first asks for an entry.
    /// </summary>
    /// <param name="path">The zip file.</param>
    /// <param name="what">How messages name the file, e.g. <c>Checkpoint '/models/best.ckpt'</c>.</param>
    /// <exception cref="InvalidDataException">Not a zip, truncated, or a damaged directory; names <paramref name="what"/>.</exception>
    public static ZipArchive OpenRead(string path, string what)
    {
        ZipArchive? zip = null;
        try
        {
            zip = ZipFile.OpenRead(path);
            _ = zip.Entries.Count;
            return zip;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or EndOfStreamException or ArgumentException)
        {
            zip?.Dispose();
            throw new InvalidDataException($"{what} is damaged or truncated (not a readable zip): {e.Message}", e);
        }
    }
}
