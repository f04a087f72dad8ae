using MLNet.FastAi.Data;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// The disk cache folder stays bounded: a build killed halfway leaves nothing after the next run, and caches beyond
/// <see cref="ImageDataOptions.CacheSizeLimit"/> go least recently used first — never one a process has open.
/// </summary>
public sealed class CacheHousekeepingTests : IDisposable
{
    private readonly TemporaryFolder _temp = new();
    private readonly List<string> _log = new();

    private readonly string _photos;

    public CacheHousekeepingTests()
    {
        TestTorch.UseOneThread();
        _photos = PhotoFolder.Write(Path.Combine(_temp.Path, "photos"), perClass: 6);
    }

    public void Dispose() => _temp.Dispose();

    private string CacheFolder => Path.Combine(_temp.Path, "cache");

    private ImageDataLoaders Load(long limit = ImageDataOptions.DefaultCacheSizeLimit) =>
        ImageDataLoaders.FromFolder(_photos, valid: null, validPct: 0.25, options: new ImageDataOptions
        {
            ImageSize = 16, BatchSize = 4, Seed = 3, Cache = ImageCacheMode.Disk, CacheFolder = CacheFolder, CacheSizeLimit = limit,
            Log = line => { lock (_log) _log.Add(line); },
        });

    /// <summary>A file of <paramref name="bytes"/> in the cache folder, last used <paramref name="age"/> ago.</summary>
    private string Planted(string name, int bytes, TimeSpan age)
    {
        Directory.CreateDirectory(CacheFolder);
        string path = Path.Combine(CacheFolder, name);
        File.WriteAllBytes(path, new byte[bytes]);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
        return path;
    }

    [Fact]
    public void TheUnfinishedCacheOfABuildThatEnded_IsRemovedByTheNextRun_ALiveOneIsNot()
    {
        string dead = Planted("train-0123456789abcdef01234567.pixels.4242.0f0f.tmp", 4096, TimeSpan.FromHours(1));
        string live = Planted("train-76543210fedcba9876543210.pixels.4343.1e1e.tmp", 4096, TimeSpan.FromHours(1));
        // A build in progress holds its temporary exclusively, as DiskSplitWriter does.
        using (new FileStream(live, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        using (Load())
        {
            Assert.False(File.Exists(dead), "the dead build's temporary is still there");
            Assert.True(File.Exists(live), "the live build's temporary was removed");
        }
        Assert.Contains(_log, line => line.Contains("1 unfinished cache(s)", StringComparison.Ordinal));
    }

    [Fact]
    public void OverTheLimit_TheLeastRecentlyUsedCachesGo_NeverOneInUse_NorTheRunsOwn()
    {
        using (Load()) { }
        var own = Directory.GetFiles(CacheFolder, "*.pixels");
        Assert.Equal(2, own.Length);   // the training and validation caches
        long ownBytes = own.Sum(f => new FileInfo(f).Length);
        // The held cache is the least recently used of all, so the limit would take it first.
        string held = Planted("train-bbbbbbbbbbbbbbbbbbbbbbbb.pixels", 60_000, TimeSpan.FromDays(4));
        string oldest = Planted("train-aaaaaaaaaaaaaaaaaaaaaaaa.pixels", 60_000, TimeSpan.FromDays(3));
        string recent = Planted("train-cccccccccccccccccccccccc.pixels", 60_000, TimeSpan.FromMinutes(5));
        foreach (var file in own) File.SetLastWriteTimeUtc(file, DateTime.UtcNow - TimeSpan.FromDays(10));

        // Another process reading a cache holds it shared, as DiskPixelStore does.
        using (new FileStream(held, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        using (Load(limit: ownBytes + 125_000))
        {
            Assert.All(own, file => Assert.True(File.Exists(file), $"the run's own cache {file} was removed"));
            Assert.False(File.Exists(oldest), "the least recently used cache was kept over the limit");
            Assert.True(File.Exists(held), "a cache in use was removed");
            Assert.True(File.Exists(recent), "more was removed than the limit needs");
        }
        Assert.Contains(_log, line => line.Contains("1 least recently used cache(s)", StringComparison.Ordinal));
    }
}
