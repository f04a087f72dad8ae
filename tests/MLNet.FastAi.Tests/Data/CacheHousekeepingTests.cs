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

    private ImageDataLoaders Load(long limit = ImageDataOptions.DefaultCacheSizeLimit, int seed = 3, int? itemSize = null) =>
        ImageDataLoaders.FromFolder(_photos, valid: null, validPct: 0.25, options: new ImageDataOptions
        {
            ImageSize = 16, ItemSize = itemSize, BatchSize = 4, Seed = seed, Cache = ImageCacheMode.Disk, CacheFolder = CacheFolder, CacheSizeLimit = limit,
            Log = line => { lock (_log) _log.Add(line); },
        });

    private long FolderBytes() => new DirectoryInfo(CacheFolder).EnumerateFiles().Sum(f => f.Length);

    /// <summary>Every image of a split as the loaders read it, by file.</summary>
    private static Dictionary<string, byte[]> Images(ImageDataLoaders data, ImageSplit split)
    {
        var set = data.Decoded(split);
        return split.Paths.Select((path, i) => (path, i)).ToDictionary(x => x.path, x =>
        {
            using var image = set.Image(x.i);
            return image.data<byte>().ToArray();
        });
    }

    [Fact]
    public void RunsWithNewRandomSplits_ReuseOneCacheOfTheImages_AndAddNothing()
    {
        Dictionary<string, byte[]> first;
        using (var data = Load(seed: 1))
            first = Images(data, data.Train).Concat(Images(data, data.Valid)).ToDictionary();
        string pool = Assert.Single(Directory.GetFiles(CacheFolder, "*.pixels"));
        long after = FolderBytes();

        foreach (int seed in new[] { 2, 3 })
        {
            _log.Clear();
            using var data = Load(seed: seed);
            Assert.Equal(2, _log.Count(l => l.Contains("in the disk cache", StringComparison.Ordinal) && l.Contains("(reused)", StringComparison.Ordinal)));
            Assert.DoesNotContain(_log, l => l.Contains("decoded in", StringComparison.Ordinal));
            // Another split of the same files: each image reads back as the first run decoded it, whichever split it is in now.
            foreach (var (path, pixels) in Images(data, data.Train).Concat(Images(data, data.Valid))) Assert.Equal(first[path], pixels);
        }
        Assert.Equal(new[] { pool }, Directory.GetFiles(CacheFolder, "*.pixels"));
        Assert.Equal(after, FolderBytes());
    }

    [Fact]
    public void WithPresizing_ANewSplitDecodesOnlyTheImagesNeverNeededAtItsSize_AndTheCachesStayBounded()
    {
        using (Load(seed: 1, itemSize: 24)) { }
        var pools = Directory.GetFiles(CacheFolder, "*.pixels");
        Assert.Equal(2, pools.Length);   // training images at the item size, validation images at the model's
        int images = Directory.EnumerateFiles(_photos, "*.jpg", SearchOption.AllDirectories).Count();

        for (int seed = 2; seed <= 8; seed++)
        {
            _log.Clear();
            using var data = Load(seed: seed, itemSize: 24);
            // Only images never in that split before are decoded: the line says how many were added beside those there.
            foreach (var line in _log.Where(l => l.Contains("in the disk cache", StringComparison.Ordinal) && l.Contains("new to it", StringComparison.Ordinal)))
                Assert.Matches(@"\(decoded in [0-9.]+ s: [0-9]+ images new to it, [1-9][0-9]* read from it\)", line);
        }
        Assert.Equal(pools, Directory.GetFiles(CacheFolder, "*.pixels"));
        // Each file has one slot per image of the dataset, whatever the splits: bounded by the dataset, never by the runs.
        long bound = 2 * 4096 + images * (3L * 24 * 24 + 3L * 16 * 16 + 2 * 17) + 2 * 4096;
        Assert.True(FolderBytes() <= bound, $"{FolderBytes():N0} bytes in the cache folder, more than the {bound:N0} that {images} images at 24 and 16 px need");
    }

    [Fact]
    public async Task ALoaderWhoseImagesAreAllCached_ReadsThemWhileAnotherBuildHoldsTheLock()
    {
        using (Load(seed: 1)) { }
        string pool = Assert.Single(Directory.GetFiles(CacheFolder, "*.pixels"));
        // Another process filling the cache holds its lock file exclusively, as CacheFileLock does.
        using var held = new FileStream(pool + ".lock", FileMode.Open, FileAccess.Read, FileShare.None);
        _log.Clear();

        var load = Task.Run(() => Load(seed: 2));
        Assert.True(await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(60))) == load, "the loader waited for a lock it does not need");
        using var data = await load;
        Assert.Equal(2, _log.Count(l => l.Contains("(reused)", StringComparison.Ordinal)));
        Assert.DoesNotContain(_log, l => l.StartsWith("Waiting", StringComparison.Ordinal));
    }

    [Fact]
    public void TwoLoadersBuildingTheSameCacheAtOnce_DecodeItOnce_AndReadTheSamePixels()
    {
        var results = new Dictionary<string, byte[]>[2];
        Parallel.For(0, 2, i =>
        {
            using var data = Load(seed: 1);
            results[i] = Images(data, data.Train);
        });
        Assert.Equal(results[0], results[1]);
        Assert.Single(Directory.GetFiles(CacheFolder, "*.pixels"));
        Assert.Empty(Directory.GetFiles(CacheFolder, "*.tmp"));
        // One decoded the training images; the other waited for it and found them there.
        Assert.Equal(1, _log.Count(l => l.StartsWith("Train images: in the disk cache", StringComparison.Ordinal) && l.Contains("decoded in", StringComparison.Ordinal)));
    }

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
        string dead = Planted("images-0123456789abcdef01234567.pixels.4242.0f0f.tmp", 4096, TimeSpan.FromHours(1));
        string live = Planted("images-76543210fedcba9876543210.pixels.4343.1e1e.tmp", 4096, TimeSpan.FromHours(1));
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
        Assert.Single(own);   // the dataset's images, which both splits index into
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
