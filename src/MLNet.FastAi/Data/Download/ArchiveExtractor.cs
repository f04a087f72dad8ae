using System.Formats.Tar;
using System.IO.Compression;
using MLNet.FastAi.Internal.Zip;

namespace MLNet.FastAi.Data.Download;

/// <summary>Unpacks .tgz, .tar.gz, .tar and .zip archives into a folder, telling the format from the file's first bytes.</summary>
internal static class ArchiveExtractor
{
    private enum ArchiveFormat { GzipTar, Tar, Zip }

    /// <returns>The folder holding the dataset: the archive's single top-level folder, or else <paramref name="destination"/>.</returns>
    public static async Task<string> ExtractAsync(string archivePath, string destination, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var format = DetectFormat(archivePath);
        var folder = new ExtractionFolder(destination, archivePath);
        var fileName = Path.GetFileName(archivePath);
        try
        {
            if (format == ArchiveFormat.Zip)
            {
                await ExtractZipAsync(archivePath, folder, progress, fileName, ct).ConfigureAwait(false);
            }
            else
            {
                using var file = new ProgressReportingStream(
                    new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true),
                    progress, DownloadStage.Extracting, fileName);
                using Stream tar = format == ArchiveFormat.GzipTar ? new GZipStream(file, CompressionMode.Decompress) : file;
                await ExtractTarAsync(tar, folder, ct).ConfigureAwait(false);
            }
            folder.CompleteLinks();
            // Readers stop at the end-of-archive marker, which can come before the file's last bytes are read.
            long length = new FileInfo(archivePath).Length;
            progress?.Report(new DownloadProgress(DownloadStage.Extracting, fileName, length, length));
            return folder.ContentFolder;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            var kind = format switch { ArchiveFormat.GzipTar => "gzip-compressed tar", ArchiveFormat.Tar => "tar", _ => "zip" };
            throw new InvalidDataException(
                $"Archive '{archivePath}' is damaged or not a valid {kind} archive ({e.Message}). Delete it, or pass forceDownload: true, to fetch it again.", e);
        }
    }

    private static async Task ExtractTarAsync(Stream tarStream, ExtractionFolder folder, CancellationToken ct)
    {
        using var reader = new TarReader(tarStream, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } entry)
        {
            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    await folder.AddFileAsync(entry.Name, entry.DataStream, ct).ConfigureAwait(false);
                    break;
                case TarEntryType.Directory:
                    folder.AddDirectory(entry.Name);
                    break;
                case TarEntryType.SymbolicLink:
                    folder.AddSymbolicLink(entry.Name, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                    folder.AddHardLink(entry.Name, entry.LinkName);
                    break;
                case TarEntryType.GlobalExtendedAttributes:
                    break; // Metadata for the entries that follow, such as git's commit id; nothing to write.
                default:
                    throw new UnsafeArchiveEntryException(folder.ArchivePath, entry.Name, $"is a {entry.EntryType} entry, which is not extracted");
            }
        }
    }

    private static async Task ExtractZipAsync(string archivePath, ExtractionFolder folder, IProgress<DownloadProgress>? progress, string fileName, CancellationToken ct)
    {
        using var zip = ZipFile.OpenRead(archivePath);
        long total = zip.Entries.Sum(e => e.CompressedLength), done = 0;
        foreach (var entry in zip.Entries)
        {
            ct.ThrowIfCancellationRequested();
            if (entry.FullName.EndsWith('/') || entry.FullName.EndsWith('\\'))
            {
                folder.AddDirectory(entry.FullName);
            }
            else if (IsUnixSymbolicLink(entry))
            {
                using var reader = new StreamReader(CrcCheckingStream.Open(entry));
                folder.AddSymbolicLink(entry.FullName, await reader.ReadToEndAsync(ct).ConfigureAwait(false));
            }
            else
            {
                using var content = CrcCheckingStream.Open(entry);
                await folder.AddFileAsync(entry.FullName, content, ct).ConfigureAwait(false);
            }
            done += entry.CompressedLength;
            progress?.Report(new DownloadProgress(DownloadStage.Extracting, fileName, done, total));
        }
    }

    // Zip files made on Unix keep the file mode in the upper half of the external attributes.
    private static bool IsUnixSymbolicLink(ZipArchiveEntry entry) => ((entry.ExternalAttributes >> 16) & 0xF000) == 0xA000;

    private static ArchiveFormat DetectFormat(string archivePath)
    {
        Span<byte> head = stackalloc byte[512];
        int length;
        using (var file = File.OpenRead(archivePath)) length = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..length];
        if (head is [0x1F, 0x8B, ..]) return ArchiveFormat.GzipTar;
        if (head is [(byte)'P', (byte)'K', 3 or 5, 4 or 6, ..]) return ArchiveFormat.Zip;
        if (head.Length >= 262 && head.Slice(257, 5).SequenceEqual("ustar"u8)) return ArchiveFormat.Tar;
        if (head is [(byte)'B', (byte)'Z', (byte)'h', ..] || head is [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', ..])
            throw new NotSupportedException($"Archive '{archivePath}' is bzip2 or xz compressed; only .tgz, .tar.gz, .tar and .zip archives are extracted.");
        // Old-style tar archives carry no magic bytes; trust the name for those.
        if (archivePath.EndsWith(".tar", StringComparison.OrdinalIgnoreCase)) return ArchiveFormat.Tar;
        throw new InvalidDataException($"Archive '{archivePath}' is not a .tgz, .tar.gz, .tar or .zip archive (unrecognised first bytes).");
    }
}
