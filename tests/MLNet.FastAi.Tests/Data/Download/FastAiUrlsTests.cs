using MLNet.FastAi.Data.Download;

namespace MLNet.FastAi.Tests.Data.Download;

public class FastAiUrlsTests
{
    [Fact]
    public void Mnist_HasFastAisAddressSizeChecksumAndFolder()
    {
        var mnist = FastAiUrls.Mnist;
        Assert.Equal("https://s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz", mnist.Url.ToString());
        Assert.Equal(15_683_414, mnist.ExpectedSize);
        Assert.Equal("03639f83c4e3d19e0a3a53a8a997c487", mnist.Md5);
        Assert.Equal("mnist_png", mnist.FolderName);
        Assert.Equal("mnist_png.tgz", mnist.ArchiveFileName);
    }

    [Fact]
    public void Catalog_EntriesAreDistinct_Checked_AndNamedAfterTheirArchives()
    {
        var all = FastAiUrls.All;
        Assert.Equal(all.Count, all.Select(d => d.Name).Distinct().Count());
        Assert.Equal(all.Count, all.Select(d => d.Url).Distinct().Count());
        Assert.All(all, d =>
        {
            Assert.NotNull(d.ExpectedSize);
            Assert.Matches("^[0-9a-f]{32}$", d.Md5);
            Assert.Equal(FastAiDataset.StripArchiveExtension(d.ArchiveFileName), d.FolderName);
        });
        Assert.Contains(FastAiUrls.Pets, all);
        Assert.Contains(FastAiUrls.Imagenette320, all);
    }

    [Fact]
    public void FindByUrl_FindsCatalogEntries_AndFromUrlNamesOthersAfterTheArchive()
    {
        Assert.Same(FastAiUrls.MnistTiny, FastAiUrls.FindByUrl(new Uri("https://s3.amazonaws.com/fast-ai-sample/mnist_tiny.tgz")));

        var custom = FastAiDataset.FromUrl(new Uri("http://127.0.0.1:8080/files/my-data.tar.gz"));
        Assert.Equal("my-data", custom.FolderName);
        Assert.Equal("my-data.tar.gz", custom.ArchiveFileName);
        Assert.Null(custom.Md5);
        Assert.Null(FastAiUrls.FindByUrl(custom.Url));
    }

    [Fact]
    public void Constructor_RejectsBadInput_NamingTheProblem()
    {
        var url = new Uri("https://example.invalid/a.tgz");
        Assert.Contains("MD5 'xyz'", Assert.Throws<ArgumentException>(() => new FastAiDataset("A", url, null, "xyz", "a")).Message);
        Assert.Contains("folder name '../a'", Assert.Throws<ArgumentException>(() => new FastAiDataset("A", url, null, null, "../a")).Message);
        Assert.Contains("ftp://", Assert.Throws<ArgumentException>(() => new FastAiDataset("A", new Uri("ftp://example.invalid/a.tgz"), null, null, "a")).Message);
        Assert.Throws<ArgumentException>(() => FastAiDataset.FromUrl(new Uri("https://example.invalid/")));
    }

    [Fact]
    public void CacheHome_DefaultsToFastAiHomeVariable_ThenTildeDotFastAi()
    {
        Assert.Equal(Path.GetFullPath("/srv/cache"), UntarData.DatasetPathFor(FastAiUrls.Mnist, "/srv/cache")[..^"/data/mnist_png".Length]);
        var user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(user, "elsewhere", "archive", "mnist_png.tgz"), UntarData.ArchivePathFor(FastAiUrls.Mnist, "~/elsewhere"));
    }

    [Fact]
    public void ConsoleProgressBar_DrawsInPlace_AndEndsWithTheReadyFolder()
    {
        var output = new StringWriter();
        var bar = new ConsoleProgressBar(output, width: 10);

        bar.Report(new DownloadProgress(DownloadStage.Downloading, "mnist_png.tgz", 0, 2_000_000));
        bar.Report(new DownloadProgress(DownloadStage.Downloading, "mnist_png.tgz", 1_000_000, 2_000_000));
        bar.Report(new DownloadProgress(DownloadStage.Downloading, "mnist_png.tgz", 1_000_001, 2_000_000)); // same text: not redrawn
        bar.Report(new DownloadProgress(DownloadStage.Downloading, "mnist_png.tgz", 2_000_000, 2_000_000));
        bar.Report(new DownloadProgress(DownloadStage.Completed, "/data/mnist_png", 0, 0));

        Assert.Equal(
            "\rDownloading mnist_png.tgz [----------]   0%  0.0/2.0 MB" +
            "\rDownloading mnist_png.tgz [#####-----]  50%  1.0/2.0 MB" +
            "\rDownloading mnist_png.tgz [##########] 100%  2.0/2.0 MB" + Environment.NewLine +
            "Ready: /data/mnist_png" + Environment.NewLine,
            output.ToString());
    }
}
