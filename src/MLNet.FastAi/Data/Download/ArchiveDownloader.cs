using System.Net;
using System.Security.Cryptography;

namespace MLNet.FastAi.Data.Download;

/// <summary>
/// Downloads one archive into a temporary file beside its final place, checks it, then renames it into place,
/// so that the final name only ever holds a complete, verified archive.
/// </summary>
internal static class ArchiveDownloader
{
    private const int BufferSize = 1 << 16;

    /// <summary>How long a download may go without receiving a byte before it is given up.</summary>
    public static TimeSpan DefaultStallTimeout { get; } = TimeSpan.FromSeconds(60);

    public static async Task DownloadAsync(
        HttpClient http, FastAiDataset dataset, DatasetCacheLayout layout,
        IProgress<DownloadProgress>? progress, TimeSpan stallTimeout, CancellationToken ct)
    {
        Directory.CreateDirectory(layout.ArchiveDirectory);
        var temporary = Path.Combine(layout.ArchiveDirectory,
            $".{dataset.ArchiveFileName}.{Guid.NewGuid():N}.partial");
        try
        {
            var md5 = await ReceiveAsync(http, dataset, layout, temporary, progress, stallTimeout, ct).ConfigureAwait(false);
            ArchiveChecks.ThrowIfWrong(dataset, layout, new FileInfo(temporary).Length, md5, "Downloaded archive");
            File.Move(temporary, layout.ArchivePath, overwrite: true);
        }
        finally
        {
            TryDelete(temporary);
        }
    }

    private static async Task<string> ReceiveAsync(
        HttpClient http, FastAiDataset dataset, DatasetCacheLayout layout, string temporary,
        IProgress<DownloadProgress>? progress, TimeSpan stallTimeout, CancellationToken ct)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stall.CancelAfter(stallTimeout);
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, dataset.Url);
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw Failure(dataset, layout, $"the server could not be reached ({e.Message})", e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw Failure(dataset, layout, $"the server did not answer within {Seconds(stallTimeout)}", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw Failure(dataset, layout, $"the server answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null);

            long? announced = response.Content.Headers.ContentLength;
            if (announced is long length && dataset.ExpectedSize is long expected && length != expected)
                throw new DatasetDownloadException(
                    $"Dataset '{dataset.Name}' at {dataset.Url} is announced as {length:N0} bytes but {expected:N0} bytes were expected; " +
                    "the published archive is not the one this library knows. Nothing was saved.", dataset.Url, layout.ArchivePath);
            long? total = announced ?? dataset.ExpectedSize;

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true);
            var buffer = new byte[BufferSize];
            long received = 0;
            progress?.Report(new DownloadProgress(DownloadStage.Downloading, dataset.ArchiveFileName, 0, total));
            Stream? body = null;
            try
            {
                while (true)
                {
                    int read;
                    try
                    {
                        stall.CancelAfter(stallTimeout);
                        body ??= await response.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
                        read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
                    {
                        throw Failure(dataset, layout, $"no data arrived for {Seconds(stallTimeout)} after {received:N0} bytes", e);
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException)
                    {
                        throw Failure(dataset, layout, $"the connection broke after {received:N0}{OfTotal(total)} bytes ({e.Message})", e);
                    }
                    if (read == 0) break;
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                    received += read;
                    progress?.Report(new DownloadProgress(DownloadStage.Downloading, dataset.ArchiveFileName, received, total));
                }
            }
            finally
            {
                body?.Dispose();
            }
            file.Flush(flushToDisk: true);

            if (announced is long promised && received != promised)
                throw Failure(dataset, layout, $"the connection ended after {received:N0} of {promised:N0} bytes", null);
            return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
        }
    }

    private static DatasetDownloadException Failure(FastAiDataset dataset, DatasetCacheLayout layout, string reason, Exception? inner) =>
        new($"Could not download dataset '{dataset.Name}' from {dataset.Url}: {reason}. " +
            $"If this machine is offline, download that file elsewhere and copy it to '{layout.ArchivePath}'; " +
            $"it will then be extracted to '{layout.DatasetPath}' without going online.",
            dataset.Url, layout.ArchivePath, inner);

    private static string OfTotal(long? total) => total is long t ? $" of {t:N0}" : "";

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
