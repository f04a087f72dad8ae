using System.Net;

namespace MLNet.FastAi.Data.Download;

/// <summary>
/// fastai's <c>untar_data</c>: downloads a dataset archive once, checks it, extracts it, and returns the
/// dataset folder; later calls return the folder straight away without going online.
/// </summary>
/// <remarks>
/// <para>The cache follows fastai's layout under a home folder: archives in <c>&lt;home&gt;/archive</c>, datasets in
/// <c>&lt;home&gt;/data/&lt;folder&gt;</c>. Home is the <c>dataRoot</c> argument when given, else the <c>FASTAI_HOME</c>
/// environment variable, else <c>~/.fastai</c>, so a machine that already ran fastai shares its downloads.</para>
/// <para>When an archive holds a single top-level folder (as fastai's do: <c>mnist_png.tgz</c> holds <c>mnist_png/</c>),
/// that folder's contents become the dataset folder, so <c>Get(FastAiUrls.Mnist)</c> returns a folder with
/// <c>training</c> and <c>testing</c> in it.</para>
/// <para>Without network access, copy the archive to <c>&lt;home&gt;/archive/&lt;file name&gt;</c> by hand; it is then checked
/// and extracted without a download.</para>
/// </remarks>
public static class UntarData
{
    private static readonly Lazy<HttpClient> SharedHttp = new(CreateHttpClient);

    /// <summary>Downloads and extracts <paramref name="dataset"/> unless it is already cached, and returns its folder.</summary>
    /// <param name="dataset">The dataset, usually one of <see cref="FastAiUrls"/>.</param>
    /// <param name="dataRoot">The cache's home folder (holding <c>archive</c> and <c>data</c>); <c>FASTAI_HOME</c> or <c>~/.fastai</c> when <see langword="null"/>.</param>
    /// <param name="forceDownload">Download and extract again even when cached; the old copy is replaced only once the new one is ready.</param>
    /// <param name="progress">Receives progress reports, for example a <see cref="ConsoleProgressBar"/>.</param>
    /// <param name="cancellationToken">Stops the download or extraction; nothing half-finished is left under a final name.</param>
    /// <returns>The full path of the extracted dataset folder.</returns>
    /// <exception cref="DatasetDownloadException">The archive could not be downloaded, or it has the wrong size or MD5.</exception>
    /// <exception cref="UnsafeArchiveEntryException">The archive has an entry that would be written outside the dataset folder.</exception>
    public static string Get(FastAiDataset dataset, string? dataRoot = null, bool forceDownload = false,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        GetAsync(dataset, dataRoot, forceDownload, progress, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Downloads and extracts the archive at <paramref name="url"/> unless it is already cached, and returns its folder.</summary>
    /// <param name="url">An archive address; one of fastai's gets its known size and MD5 checked, any other is taken as it comes.</param>
    /// <param name="dataRoot">The cache's home folder (holding <c>archive</c> and <c>data</c>); <c>FASTAI_HOME</c> or <c>~/.fastai</c> when <see langword="null"/>.</param>
    /// <param name="forceDownload">Download and extract again even when cached; the old copy is replaced only once the new one is ready.</param>
    /// <param name="progress">Receives progress reports, for example a <see cref="ConsoleProgressBar"/>.</param>
    /// <param name="cancellationToken">Stops the download or extraction; nothing half-finished is left under a final name.</param>
    /// <returns>The full path of the extracted dataset folder, named after the archive without its extension.</returns>
    /// <exception cref="DatasetDownloadException">The archive could not be downloaded, or it has the wrong size or MD5.</exception>
    /// <exception cref="UnsafeArchiveEntryException">The archive has an entry that would be written outside the dataset folder.</exception>
    public static string Get(Uri url, string? dataRoot = null, bool forceDownload = false,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Get(DatasetFor(url), dataRoot, forceDownload, progress, cancellationToken);

    /// <inheritdoc cref="Get(FastAiDataset, string?, bool, IProgress{DownloadProgress}?, CancellationToken)"/>
    public static Task<string> GetAsync(FastAiDataset dataset, string? dataRoot = null, bool forceDownload = false,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        GetAsync(dataset, dataRoot, forceDownload, progress, SharedHttp.Value, ArchiveDownloader.DefaultStallTimeout, cancellationToken);

    /// <inheritdoc cref="Get(Uri, string?, bool, IProgress{DownloadProgress}?, CancellationToken)"/>
    public static Task<string> GetAsync(Uri url, string? dataRoot = null, bool forceDownload = false,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        GetAsync(DatasetFor(url), dataRoot, forceDownload, progress, cancellationToken);

    /// <summary>Where <paramref name="dataset"/>'s archive is kept; an archive copied there by hand is used instead of downloading.</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="dataRoot">The cache's home folder; <c>FASTAI_HOME</c> or <c>~/.fastai</c> when <see langword="null"/>.</param>
    public static string ArchivePathFor(FastAiDataset dataset, string? dataRoot = null) =>
        DatasetCacheLayout.For(dataset ?? throw new ArgumentNullException(nameof(dataset)), dataRoot).ArchivePath;

    /// <summary>Where <paramref name="dataset"/> is extracted to, whether or not it is there yet.</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="dataRoot">The cache's home folder; <c>FASTAI_HOME</c> or <c>~/.fastai</c> when <see langword="null"/>.</param>
    public static string DatasetPathFor(FastAiDataset dataset, string? dataRoot = null) =>
        DatasetCacheLayout.For(dataset ?? throw new ArgumentNullException(nameof(dataset)), dataRoot).DatasetPath;

    /// <summary>The whole operation with the HTTP client and stall timeout chosen by the caller; tests use this.</summary>
    internal static async Task<string> GetAsync(FastAiDataset dataset, string? dataRoot, bool forceDownload,
        IProgress<DownloadProgress>? progress, HttpClient http, TimeSpan stallTimeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var layout = DatasetCacheLayout.For(dataset, dataRoot);
        if (!forceDownload && Directory.Exists(layout.DatasetPath))
        {
            progress?.Report(new DownloadProgress(DownloadStage.Completed, layout.DatasetPath, 0, 0));
            return layout.DatasetPath;
        }

        bool haveArchive = !forceDownload && File.Exists(layout.ArchivePath);
        if (haveArchive && !ArchiveChecks.IsIntact(dataset, layout.ArchivePath, progress, ct))
        {
            File.Delete(layout.ArchivePath); // Not the published archive: a damaged copy or one placed by mistake.
            haveArchive = false;
        }
        if (!haveArchive)
            await ArchiveDownloader.DownloadAsync(http, dataset, layout, progress, stallTimeout, ct).ConfigureAwait(false);

        await ExtractIntoPlaceAsync(layout, progress, ct).ConfigureAwait(false);
        progress?.Report(new DownloadProgress(DownloadStage.Completed, layout.DatasetPath, 0, 0));
        return layout.DatasetPath;
    }

    private static async Task ExtractIntoPlaceAsync(DatasetCacheLayout layout, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(layout.DataDirectory);
        // Extracting beside the final folder keeps the closing move a rename on the same file system.
        var staging = Path.Combine(layout.DataDirectory, $".{Path.GetFileName(layout.DatasetPath)}.{Guid.NewGuid():N}.extracting");
        try
        {
            var content = await ArchiveExtractor.ExtractAsync(layout.ArchivePath, staging, progress, ct).ConfigureAwait(false);
            if (Directory.Exists(layout.DatasetPath)) Directory.Delete(layout.DatasetPath, recursive: true);
            try
            {
                Directory.Move(content, layout.DatasetPath);
            }
            catch (IOException) when (Directory.Exists(layout.DatasetPath))
            {
                // Another process extracted the same dataset meanwhile; its copy is as good as this one.
            }
        }
        finally
        {
            if (Directory.Exists(staging)) TryDeleteDirectory(staging);
        }
    }

    private static FastAiDataset DatasetFor(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return (url.IsAbsoluteUri ? FastAiUrls.FindByUrl(url) : null) ?? FastAiDataset.FromUrl(url);
    }

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        // Downloads of several gigabytes outlast any fixed request timeout; stalls are detected per read instead.
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("MLNet.FastAi");
        return http;
    }
}
