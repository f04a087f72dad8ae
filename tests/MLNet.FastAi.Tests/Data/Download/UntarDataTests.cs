using System.Net;
using System.Net.Sockets;
using MLNet.FastAi.Data.Download;

namespace MLNet.FastAi.Tests.Data.Download;

/// <summary>
/// <see cref="UntarData"/> against archives built here and served from 127.0.0.1: caching, checks, broken
/// downloads, unsafe archives, and the message a user sees when the host cannot be reached.
/// </summary>
public sealed class UntarDataTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-untar-" + Guid.NewGuid().ToString("N"));
    private readonly LoopbackArchiveServer _server = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false });

    private string Home => Path.Combine(_root, "home");
    private string Outside => Path.Combine(_root, "outside");

    public UntarDataTests() => Directory.CreateDirectory(Outside);

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static readonly byte[] DigitsArchive = TestArchives.TarGz(
        ArchiveEntry.Folder("digits/"),
        ArchiveEntry.Folder("digits/training/"),
        ArchiveEntry.File("digits/training/3/1.png", "three"),
        ArchiveEntry.File("digits/training/7/2.png", "seven"),
        ArchiveEntry.File("digits/testing/3/9.png", "another three"));

    private FastAiDataset Serve(string fileName, byte[] archive, string folderName = "digits", bool checks = true)
    {
        _server.Serve(fileName, archive);
        return new FastAiDataset("TEST", _server.UrlFor(fileName), checks ? archive.Length : null,
            checks ? TestArchives.Md5Of(archive) : null, folderName);
    }

    private Task<string> GetAsync(FastAiDataset dataset, bool force = false, IProgress<DownloadProgress>? progress = null) =>
        UntarData.GetAsync(dataset, Home, force, progress, _http, TimeSpan.FromMinutes(1), CancellationToken.None);

    private string[] FilesUnder(string folder) =>
        Directory.Exists(folder) ? Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories) : [];

    [Fact]
    public async Task Get_DownloadsVerifiesAndExtracts_ReturningTheArchivesTopLevelFolder()
    {
        var dataset = Serve("digits.tgz", DigitsArchive);

        var path = await GetAsync(dataset);

        Assert.Equal(Path.Combine(Home, "data", "digits"), path);
        Assert.Equal("three", File.ReadAllText(Path.Combine(path, "training", "3", "1.png")));
        Assert.Equal("seven", File.ReadAllText(Path.Combine(path, "training", "7", "2.png")));
        Assert.Equal("another three", File.ReadAllText(Path.Combine(path, "testing", "3", "9.png")));
        Assert.Equal(DigitsArchive, File.ReadAllBytes(Path.Combine(Home, "archive", "digits.tgz")));
        Assert.Equal(UntarData.ArchivePathFor(dataset, Home), Path.Combine(Home, "archive", "digits.tgz"));
        // Nothing temporary is left beside the results.
        Assert.Equal([Path.Combine(Home, "archive", "digits.tgz")], Directory.GetFileSystemEntries(Path.Combine(Home, "archive")));
        Assert.Equal([path], Directory.GetFileSystemEntries(Path.Combine(Home, "data")));
    }

    [Fact]
    public async Task Get_SecondCall_UsesTheCacheWithoutAnyRequest()
    {
        var dataset = Serve("digits.tgz", DigitsArchive);

        var first = await GetAsync(dataset);
        var second = await GetAsync(dataset);

        Assert.Equal(first, second);
        Assert.Equal(1, _server.RequestCount("digits.tgz"));
    }

    [Fact]
    public async Task Get_ArchiveAlreadyInPlaceButNotExtracted_ExtractsWithoutDownloading()
    {
        var dataset = Serve("digits.tgz", DigitsArchive);
        Directory.CreateDirectory(Path.Combine(Home, "archive"));
        File.WriteAllBytes(UntarData.ArchivePathFor(dataset, Home), DigitsArchive);

        var path = await GetAsync(dataset);

        Assert.True(File.Exists(Path.Combine(path, "training", "3", "1.png")));
        Assert.Equal(0, _server.RequestCount("digits.tgz"));
    }

    [Fact]
    public async Task Get_DamagedArchiveAlreadyInPlace_IsReplacedByADownload()
    {
        var dataset = Serve("digits.tgz", DigitsArchive);
        Directory.CreateDirectory(Path.Combine(Home, "archive"));
        File.WriteAllBytes(UntarData.ArchivePathFor(dataset, Home), DigitsArchive[..^1]);

        var path = await GetAsync(dataset);

        Assert.True(File.Exists(Path.Combine(path, "training", "3", "1.png")));
        Assert.Equal(1, _server.RequestCount("digits.tgz"));
        Assert.Equal(DigitsArchive, File.ReadAllBytes(UntarData.ArchivePathFor(dataset, Home)));
    }

    [Fact]
    public async Task Get_ForceDownload_FetchesAgainAndReplacesTheOldCopy()
    {
        var dataset = Serve("digits.tgz", DigitsArchive, checks: false);
        var path = await GetAsync(dataset);
        var updated = TestArchives.TarGz(ArchiveEntry.File("digits/training/5/1.png", "five"));
        _server.Serve("digits.tgz", updated);

        var again = await GetAsync(dataset, force: true);

        Assert.Equal(path, again);
        Assert.Equal(2, _server.RequestCount("digits.tgz"));
        Assert.Equal("five", File.ReadAllText(Path.Combine(path, "training", "5", "1.png")));
        Assert.False(Directory.Exists(Path.Combine(path, "training", "3")));
        Assert.Equal(updated, File.ReadAllBytes(UntarData.ArchivePathFor(dataset, Home)));
    }

    [Fact]
    public async Task Get_Md5Mismatch_FailsNamingUrlAndBothDigests_AndKeepsNoFile()
    {
        _server.Serve("digits.tgz", DigitsArchive);
        var wrongMd5 = new string('0', 32);
        var dataset = new FastAiDataset("TEST", _server.UrlFor("digits.tgz"), DigitsArchive.Length, wrongMd5, "digits");

        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => GetAsync(dataset));

        Assert.Contains(dataset.Url.ToString(), error.Message);
        Assert.Contains(wrongMd5, error.Message);
        Assert.Contains(TestArchives.Md5Of(DigitsArchive), error.Message);
        Assert.DoesNotContain(FilesUnder(Home), File.Exists);
        Assert.False(Directory.Exists(Path.Combine(Home, "data", "digits")));
    }

    [Fact]
    public async Task Get_AnnouncedSizeMismatch_FailsNamingBothSizes_AndKeepsNoFile()
    {
        _server.Serve("digits.tgz", DigitsArchive);
        var dataset = new FastAiDataset("TEST", _server.UrlFor("digits.tgz"), DigitsArchive.Length + 1, null, "digits");

        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => GetAsync(dataset));

        Assert.Contains($"{DigitsArchive.Length:N0}", error.Message);
        Assert.Contains($"{DigitsArchive.Length + 1:N0}", error.Message);
        Assert.DoesNotContain(FilesUnder(Home), File.Exists);
    }

    [Fact]
    public async Task Get_ConnectionDropsMidDownload_FailsWithoutLeavingAnArchive_AndTheNextCallSucceeds()
    {
        var dataset = Serve("digits.tgz", DigitsArchive, checks: false);
        _server.ServeCutOffOnce("digits.tgz", DigitsArchive, bytesBeforeClose: DigitsArchive.Length / 2);

        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => GetAsync(dataset));
        Assert.Contains(dataset.Url.ToString(), error.Message);
        Assert.Empty(FilesUnder(Path.Combine(Home, "archive")));
        Assert.False(Directory.Exists(Path.Combine(Home, "data", "digits")));

        var path = await GetAsync(dataset);
        Assert.Equal("three", File.ReadAllText(Path.Combine(path, "training", "3", "1.png")));
        Assert.Equal(2, _server.RequestCount("digits.tgz"));
    }

    [Fact]
    public async Task Get_HostUnreachable_SaysTheDatasetCouldNotBeDownloaded_AndWhereToPutTheArchive()
    {
        int closedPort = ClosedLoopbackPort();
        var dataset = new FastAiDataset("OFFLINE", new Uri($"http://127.0.0.1:{closedPort}/mnist_png.tgz"), null, null, "mnist_png");

        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => GetAsync(dataset));

        Assert.Contains("Could not download dataset 'OFFLINE'", error.Message);
        Assert.Contains(dataset.Url.ToString(), error.Message);
        Assert.Contains(UntarData.ArchivePathFor(dataset, Home), error.Message);
        Assert.Equal(UntarData.ArchivePathFor(dataset, Home), error.ArchivePath);
        Assert.DoesNotContain(FilesUnder(Home), File.Exists);
    }

    [Fact]
    public async Task Get_HttpError_NamesTheStatus()
    {
        _server.ServeStatus("missing.tgz", 404);
        var dataset = new FastAiDataset("MISSING", _server.UrlFor("missing.tgz"), null, null, "missing");

        var error = await Assert.ThrowsAsync<DatasetDownloadException>(() => GetAsync(dataset));

        Assert.Contains("HTTP 404", error.Message);
        Assert.Contains(dataset.Url.ToString(), error.Message);
        Assert.DoesNotContain(FilesUnder(Home), File.Exists);
    }

    [Fact]
    public async Task Get_ZipWithSeveralTopLevelEntries_ExtractsThemIntoTheDatasetFolder()
    {
        var archive = TestArchives.Zip(
            ArchiveEntry.File("train/a.txt", "a"),
            ArchiveEntry.File("valid/b.txt", "b"),
            ArchiveEntry.File("labels.csv", "name,label"));
        var dataset = Serve("flat.zip", archive, folderName: "flat");

        var path = await GetAsync(dataset);

        Assert.Equal("a", File.ReadAllText(Path.Combine(path, "train", "a.txt")));
        Assert.Equal("b", File.ReadAllText(Path.Combine(path, "valid", "b.txt")));
        Assert.Equal("name,label", File.ReadAllText(Path.Combine(path, "labels.csv")));
    }

    [Fact]
    public async Task Get_SymbolicLinksThatStayInside_AreKept()
    {
        var archive = TestArchives.TarGz(
            ArchiveEntry.File("ds/v1/data.txt", "payload"),
            ArchiveEntry.SymbolicLink("ds/latest", "v1"),
            ArchiveEntry.SymbolicLink("ds/v1/alias.txt", "../v1/data.txt"),
            ArchiveEntry.SymbolicLink("ds/newest", "latest"),
            ArchiveEntry.HardLink("ds/copy.txt", "ds/v1/data.txt"));
        var dataset = Serve("links.tgz", archive, folderName: "links");

        var path = await GetAsync(dataset);

        Assert.Equal("payload", File.ReadAllText(Path.Combine(path, "latest", "data.txt")));
        Assert.Equal("payload", File.ReadAllText(Path.Combine(path, "v1", "alias.txt")));
        Assert.Equal("payload", File.ReadAllText(Path.Combine(path, "newest", "data.txt")));
        Assert.Equal("payload", File.ReadAllText(Path.Combine(path, "copy.txt")));
        Assert.Equal("v1", new FileInfo(Path.Combine(path, "latest")).LinkTarget);
    }

    public static TheoryData<string, ArchiveEntry[]> EscapingTarArchives()
    {
        var outside = Path.Combine(Path.GetTempPath(), "mlnet-fastai-never-written-" + Guid.NewGuid().ToString("N"));
        return new()
        {
            { "../evil.txt", [ArchiveEntry.File("../evil.txt", "evil")] },
            { "ds/../../evil.txt", [ArchiveEntry.File("ds/ok.txt", "ok"), ArchiveEntry.File("ds/../../evil.txt", "evil")] },
            { outside + "/evil.txt", [ArchiveEntry.File(outside + "/evil.txt", "evil")] },
            { "ds/escape", [ArchiveEntry.SymbolicLink("ds/escape", "../../../outside"), ArchiveEntry.File("ds/escape/evil.txt", "evil")] },
            { "ds/absolute", [ArchiveEntry.SymbolicLink("ds/absolute", outside), ArchiveEntry.File("ds/absolute/evil.txt", "evil")] },
            // Read as text, "x/../b" is ds/a/b; but x is a link to ds, so the file system resolves it to ds/../b.
            { "ds/a/y", [ArchiveEntry.Folder("ds/a/"), ArchiveEntry.SymbolicLink("ds/a/x", ".."), ArchiveEntry.SymbolicLink("ds/a/y", "x/../b")] },
            // Inside the archive, but "ds" becomes the dataset folder, so this would reach a neighbouring dataset.
            { "ds/neighbour", [ArchiveEntry.File("ds/a.txt", "a"), ArchiveEntry.SymbolicLink("ds/neighbour", "../other-dataset/secret.txt")] },
            { "ds/stolen", [ArchiveEntry.HardLink("ds/stolen", "../../../../etc/passwd")] },
        };
    }

    [Theory]
    [MemberData(nameof(EscapingTarArchives))]
    public async Task Get_TarEntryEscapingTheFolder_IsRefusedNamingTheEntry_AndNothingIsWrittenOutside(string offendingEntry, ArchiveEntry[] entries)
    {
        var dataset = Serve("evil.tgz", TestArchives.TarGz(entries), folderName: "evil");

        var error = await Assert.ThrowsAsync<UnsafeArchiveEntryException>(() => GetAsync(dataset));

        Assert.Equal(offendingEntry, error.EntryName);
        Assert.Contains(offendingEntry, error.Message);
        AssertNothingEscaped(dataset);
    }

    [Theory]
    [InlineData("../evil.txt", false)]
    [InlineData("ds/escape", true)]
    public async Task Get_ZipEntryEscapingTheFolder_IsRefusedNamingTheEntry(string offendingEntry, bool isLink)
    {
        var entry = isLink ? ArchiveEntry.SymbolicLink(offendingEntry, "../../outside") : ArchiveEntry.File(offendingEntry, "evil");
        var dataset = Serve("evil.zip", TestArchives.Zip(ArchiveEntry.File("ds/ok.txt", "ok"), entry), folderName: "evil");

        var error = await Assert.ThrowsAsync<UnsafeArchiveEntryException>(() => GetAsync(dataset));

        Assert.Equal(offendingEntry, error.EntryName);
        AssertNothingEscaped(dataset);
    }

    private void AssertNothingEscaped(FastAiDataset dataset)
    {
        Assert.Empty(Directory.GetFileSystemEntries(Outside));
        // The archive is the only file or link anywhere: no extracted entry, no staging folder, no link.
        var filesAndLinks = FilesUnder(_root).Where(p => File.Exists(p) || new FileInfo(p).LinkTarget is not null);
        Assert.Equal([UntarData.ArchivePathFor(dataset, Home)], filesAndLinks);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Home, "data")));
    }

    [Fact]
    public async Task Get_ReportsDownloadExtractionAndCompletion()
    {
        var dataset = Serve("digits.tgz", DigitsArchive);
        var reports = new List<DownloadProgress>();

        var path = await GetAsync(dataset, progress: new CollectingProgress(reports));

        var downloads = reports.Where(r => r.Stage == DownloadStage.Downloading).ToList();
        Assert.Equal(DigitsArchive.Length, downloads[^1].BytesDone);
        Assert.Equal(1.0, downloads[^1].Fraction);
        var extraction = reports.Where(r => r.Stage == DownloadStage.Extracting).ToList();
        Assert.Equal(DigitsArchive.Length, extraction[^1].BytesDone);
        Assert.Equal(new DownloadProgress(DownloadStage.Completed, path, 0, 0), reports[^1]);
    }

    private static int ClosedLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private sealed class CollectingProgress(List<DownloadProgress> reports) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => reports.Add(value);
    }
}
