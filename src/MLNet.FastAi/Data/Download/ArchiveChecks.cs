using System.Security.Cryptography;

namespace MLNet.FastAi.Data.Download;

/// <summary>Compares an archive with the size and MD5 its dataset was published with.</summary>
internal static class ArchiveChecks
{
    public static void ThrowIfWrong(FastAiDataset dataset, DatasetCacheLayout layout, long actualSize, string? actualMd5, string what)
    {
        if (dataset.ExpectedSize is long size && size != actualSize)
            throw Mismatch(dataset, layout, what, "size", $"{size:N0} bytes", $"{actualSize:N0} bytes");
        if (dataset.Md5 is string md5 && actualMd5 is not null && !string.Equals(md5, actualMd5, StringComparison.OrdinalIgnoreCase))
            throw Mismatch(dataset, layout, what, "MD5", md5, actualMd5);
    }

    /// <summary>Checks an archive already on disk, reading it in full only when there is an MD5 to compare.</summary>
    public static bool IsIntact(FastAiDataset dataset, string path, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        long length = new FileInfo(path).Length;
        if (dataset.ExpectedSize is long size && size != length) return false;
        if (dataset.Md5 is null) return true;
        using var stream = new ProgressReportingStream(
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16),
            progress, DownloadStage.Verifying, dataset.ArchiveFileName);
        using var md5 = MD5.Create();
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            md5.TransformBlock(buffer, 0, read, null, 0);
        }
        md5.TransformFinalBlock([], 0, 0);
        return string.Equals(Convert.ToHexString(md5.Hash!), dataset.Md5, StringComparison.OrdinalIgnoreCase);
    }

    private static DatasetDownloadException Mismatch(FastAiDataset dataset, DatasetCacheLayout layout, string what, string check, string expected, string actual) =>
        new($"{what} for dataset '{dataset.Name}' from {dataset.Url} has the wrong {check}: expected {expected}, got {actual}. " +
            "The file was deleted; try again, and if this persists the published archive has changed or a proxy altered it.",
            dataset.Url, layout.ArchivePath);
}
