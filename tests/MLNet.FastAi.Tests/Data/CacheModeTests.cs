using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using static TorchSharp.torch;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// The three places decoded images can live — memory, a disk cache, nowhere (streamed) — give the same batches, and
/// the disk cache is keyed, checked and repaired so that it is never read wrong.
/// </summary>
public sealed class CacheModeTests : IDisposable
{
    private readonly TemporaryFolder _temp = new();
    private readonly List<string> _log = new();

    public CacheModeTests() => TestTorch.UseOneThread();

    public void Dispose() => _temp.Dispose();

    private string Root => Path.Combine(_temp.Path, "photos");

    private string CacheFolder => Path.Combine(_temp.Path, "cache");

    private ImageDataOptions Options(ImageCacheMode mode) => new()
    {
        ImageSize = 24, Resize = ResizeMethod.Crop, BatchSize = 8, Seed = 11, Normalization = NormalizationStats.ImageNet,
        Cache = mode, CacheFolder = CacheFolder, Log = line => { lock (_log) _log.Add(line); }, PrefetchBatches = 2, DecodeWorkers = 2,
    };

    private ImageDataLoaders Load(ImageDataOptions options) => ImageDataLoaders.FromFolder(Root, valid: null, validPct: 0.25, options: options);

    /// <summary>Every batch of two epochs of a split: images and labels, as host arrays.</summary>
    private static List<(float[] Images, long[] Labels)> Epochs(ImageDataLoaders data, ImageSplit split, bool training)
    {
        var batches = new List<(float[], long[])>();
        using var loader = data.Loader(split, CPU, training, data.Normalization!);
        for (int epoch = 0; epoch < 2; epoch++)
            foreach (var batch in loader.Batches(epoch))
            {
                using var scope = NewDisposeScope();
                batches.Add((batch.Images.contiguous().data<float>().ToArray(), batch.Labels.data<long>().ToArray()));
            }
        return batches;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Batches_AreIdentical_InMemory_OnDisk_AndStreamed(bool presizeAndAugment)
    {
        PhotoFolder.Write(Root, perClass: 12);
        var results = new Dictionary<ImageCacheMode, (List<(float[], long[])> Train, List<(float[], long[])> Valid)>();
        foreach (var mode in new[] { ImageCacheMode.Memory, ImageCacheMode.Disk, ImageCacheMode.Stream })
        {
            var options = Options(mode);
            if (presizeAndAugment) options = options with { ItemSize = 32, Augmentation = AugmentationOptions.Default with { MinScale = 0.75f } };
            using var data = Load(options);
            Assert.Equal(mode, data.CacheModes["train"]);
            Assert.Equal(mode, data.CacheModes["valid"]);
            results[mode] = (Epochs(data, data.Train, training: true), Epochs(data, data.Valid, training: false));
            Assert.All(results[mode].Train, b => Assert.Equal(8 * 3 * 24 * 24, b.Item1.Length));
        }
        var memory = results[ImageCacheMode.Memory];
        Assert.Equal(2 * (27 / 8), memory.Train.Count);
        foreach (var mode in new[] { ImageCacheMode.Disk, ImageCacheMode.Stream })
        {
            var other = results[mode];
            Assert.Equal(memory.Train.Count, other.Train.Count);
            Assert.Equal(memory.Valid.Count, other.Valid.Count);
            for (int b = 0; b < memory.Train.Count; b++)
            {
                Assert.Equal(memory.Train[b].Item2, other.Train[b].Item2);
                Assert.True(memory.Train[b].Item1.SequenceEqual(other.Train[b].Item1), $"{mode}: training batch {b} differs from memory's");
            }
            for (int b = 0; b < memory.Valid.Count; b++)
                Assert.True(memory.Valid[b].Item1.SequenceEqual(other.Valid[b].Item1), $"{mode}: validation batch {b} differs from memory's");
        }
        // The two epochs differ (a new shuffle), so equal runs are not equal by accident.
        Assert.False(memory.Train[0].Item1.SequenceEqual(memory.Train[memory.Train.Count / 2].Item1));
    }

    [Fact]
    public void DiskCache_IsReusedByTheNextRun_AndAChangedFileMakesANewOne()
    {
        PhotoFolder.Write(Root, perClass: 6);
        float[] before;
        string changed;
        using (var first = Load(Options(ImageCacheMode.Disk)))
        {
            Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("(decoded in"));
            changed = first.Train.Paths[0];
            before = Pixels(first, changed);
        }
        _log.Clear();
        using (var second = Load(Options(ImageCacheMode.Disk)))
        {
            Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("(reused)"));
            Assert.Equal(before, Pixels(second, changed));
        }

        // Same size, new content and time: the key changes, so the old file is not read.
        File.WriteAllBytes(changed, PhotoFolder.Jpeg(40, 30, classIndex: 2, new Random(99)));
        File.SetLastWriteTimeUtc(changed, DateTime.UtcNow.AddMinutes(1));
        _log.Clear();
        using var third = Load(Options(ImageCacheMode.Disk));
        Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("(decoded in"));
        Assert.NotEqual(before, Pixels(third, changed));
        using var memory = Load(Options(ImageCacheMode.Memory));
        Assert.Equal(Pixels(memory, changed), Pixels(third, changed));
        Assert.Equal(2, Directory.GetFiles(CacheFolder, "images-*.pixels").Length);
    }

    [Fact]
    public void ATruncatedCacheFile_IsRebuilt()
    {
        PhotoFolder.Write(Root, perClass: 6);
        string file;
        float[] expected;
        using (var data = Load(Options(ImageCacheMode.Disk)))
        {
            expected = Pixels(data, data.Train.Paths[^1]);
            file = Assert.Single(Directory.GetFiles(CacheFolder, "images-*.pixels"));
        }
        using (var stream = new FileStream(file, FileMode.Open)) stream.SetLength(stream.Length - 1000);
        _log.Clear();

        using var rebuilt = Load(Options(ImageCacheMode.Disk));
        Assert.Contains(_log, l => l.Contains($"The disk cache '{file}' cannot be used") && l.Contains("truncated"));
        Assert.Equal(expected, Pixels(rebuilt, rebuilt.Train.Paths[^1]));
        Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("(decoded in"));
    }

    [Fact]
    public void ADamagedImageInTheCache_IsDecodedAgain_AndTheCacheRepaired()
    {
        PhotoFolder.Write(Root, perClass: 6);
        string file;
        float[] expected;
        long slot;
        using (var data = Load(Options(ImageCacheMode.Disk)))
        {
            expected = Pixels(data, data.Train.Paths[0]);
            file = Assert.Single(Directory.GetFiles(CacheFolder, "images-*.pixels"));
            // Slots are the dataset's files in ordinal order.
            slot = data.Train.Paths.Concat(data.Valid.Paths).Order(StringComparer.Ordinal).ToList().IndexOf(data.Train.Paths[0]);
        }
        // Slot 0's pixels start at the first 4096-byte boundary after the header.
        using (var stream = new FileStream(file, FileMode.Open))
        {
            long offset = 4096 + slot * 3 * 24 * 24 + 100;
            stream.Position = offset;
            int b = stream.ReadByte();
            stream.Position = offset;
            stream.WriteByte((byte)(b ^ 0x40));
        }
        _log.Clear();
        using (var data = Load(Options(ImageCacheMode.Disk)))
        {
            Assert.Contains(_log, l => l.Contains("(reused)"));
            Assert.Equal(expected, Pixels(data, data.Train.Paths[0]));
            Assert.Contains(_log, l => l.Contains("did not match its checksum") && l.Contains(data.Train.Paths[0]));
            Assert.Equal(1, ((DiskPixelStore)data.Decoded(data.Train).Store).Repairs);
        }
        _log.Clear();
        using var again = Load(Options(ImageCacheMode.Disk));
        Assert.Equal(expected, Pixels(again, again.Train.Paths[0]));
        Assert.DoesNotContain(_log, l => l.Contains("did not match its checksum"));
    }

    [Fact]
    public void Auto_KeepsSmallSetsInMemory_AndSendsLargerOnesToDisk_SayingWhy()
    {
        PhotoFolder.Write(Root, perClass: 6);
        using (var small = Load(Options(ImageCacheMode.Auto)))
        {
            Assert.Equal(ImageCacheMode.Memory, small.CacheModes["train"]);
            Assert.Contains(_log, l => l.StartsWith("Train images: in memory") && l.Contains("within the memory budget"));
        }
        _log.Clear();
        using var large = Load(Options(ImageCacheMode.Auto) with { MemoryBudget = 10_000 });
        Assert.Equal(ImageCacheMode.Disk, large.CacheModes["train"]);
        Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("more than the memory budget of 10 KiB") && l.Contains("ImageDataOptions.MemoryBudget"));
    }

    /// <summary>
    /// A cache folder that cannot be written (here a file stands where a folder should be, which stops root too):
    /// Auto streams instead and says why; a forced disk cache is refused naming the option, before any decoding.
    /// </summary>
    [Fact]
    public void AnUnwritableCacheFolder_MakesAutoStream_AndForcedDiskIsRefusedNamingTheOption()
    {
        PhotoFolder.Write(Root, perClass: 6);
        string blocker = Path.Combine(_temp.Path, "not-a-folder");
        File.WriteAllText(blocker, "a file where the cache folder's parent should be");
        var unwritable = Path.Combine(blocker, "cache");

        using (var data = Load(Options(ImageCacheMode.Auto) with { MemoryBudget = 10_000, CacheFolder = unwritable }))
        {
            Assert.Equal(ImageCacheMode.Stream, data.CacheModes["train"]);
            Assert.Contains(_log, l => l.StartsWith("Train images: streamed") && l.Contains("cannot be written"));
            Assert.NotEmpty(Epochs(data, data.Train, training: true));
        }

        var refused = Assert.Throws<ImageCacheUnavailableException>(() => Load(Options(ImageCacheMode.Disk) with { CacheFolder = unwritable }));
        Assert.Contains("ImageDataOptions.CacheFolder", refused.Message);
        Assert.Contains("cannot be written", refused.Message);
        Assert.Equal("a file where the cache folder's parent should be", File.ReadAllText(blocker));
    }

    [Fact]
    public void AConfigurationThatCannotFit_IsRefusedBeforeDecodingOrTraining()
    {
        PhotoFolder.Write(Root, perClass: 6);
        using (AvailableMemory.Pretend(20_000))
        {
            var memory = Assert.Throws<OptionException>(() => Load(Options(ImageCacheMode.Memory)));
            Assert.Equal(OptionKey.Cache, memory.Option);
            Assert.Equal(ImageCacheMode.Disk, memory.Fits);
            Assert.Contains("ImageDataOptions.Cache", memory.Message);
            Assert.Contains("Disk", memory.Message);
            Assert.Contains("may use only 20 KiB", memory.Message);
        }

        // Training images alone fit (9 × 1,728 bytes, under 80% of 22,000); with the validation images they do not:
        // refused before the training images are decoded.
        using (AvailableMemory.Pretend(22_000))
        {
            _log.Clear();
            var both = Assert.Throws<OptionException>(() => Load(Options(ImageCacheMode.Memory)));
            Assert.Contains("train and valid", both.Message);
            Assert.DoesNotContain(_log, line => line.StartsWith("Train images:", StringComparison.Ordinal));
        }

        using var data = Load(Options(ImageCacheMode.Stream));
        using var learner = MLNet.FastAi.Training.Learner.Vision(data, new MLNet.FastAi.Training.VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = MLNet.FastAi.Training.PretrainedSource.None, ShowProgress = false, Device = MLNet.FastAi.Runtime.ComputeDevice.Cpu,
        });
        using (AvailableMemory.Pretend(ActivationMemory.TrainingBytes(SmallMnistFixture.TinyResNet.Shape, 24, 4)))
        {
            var training = Assert.Throws<OptionException>(() => learner.Fit(1, 1e-3));
            Assert.Equal(OptionKey.BatchSize, training.Option);
            Assert.Equal(8, training.Value);
            Assert.Equal(4, training.Fits);
            Assert.Contains("ImageDataOptions.BatchSize", training.Message);
            Assert.Contains("batches of 8 images of 24×24 pixels", training.Message);
        }
        Assert.Empty(learner.Recorder.Epochs);
        learner.Fit(1, 1e-3);
        Assert.Single(learner.Recorder.Epochs);
    }

    [Fact]
    public void MixedSizes_WithoutAnImageSize_AreRefusedNamingTheOption_UniformOnesSetTheSize()
    {
        PhotoFolder.Write(Root, perClass: 4);
        var e = Assert.Throws<OptionException>(() => ImageDataLoaders.FromFolder(Root, valid: null, validPct: 0.25, options: new ImageDataOptions { Log = _ => { } }));
        Assert.Equal(OptionKey.ImageSize, e.Option);
        Assert.Contains("different sizes", e.Message);
        Assert.Contains("ImageDataOptions.ImageSize", e.Message);
        Assert.Contains("224", e.Message);

        string uniform = Path.Combine(_temp.Path, "uniform");
        PhotoFolder.Write(uniform, perClass: 4, sizes: new[] { (30, 20) });
        using var data = ImageDataLoaders.FromFolder(uniform, valid: null, validPct: 0.25, options: new ImageDataOptions { Log = _ => { } });
        Assert.Equal(30, data.Pipeline.Width);
        Assert.Equal(30, data.Pipeline.Height);
    }

    [Fact]
    public void Streaming_LeavesBadFilesOutBeforeTheFirstEpoch_AndAFileThatFailsLaterStopsTheFitByName()
    {
        PhotoFolder.Write(Root, perClass: 6);
        string bad = Path.Combine(Root, "train", "class1", "zz-broken.jpg");
        File.WriteAllBytes(bad, PhotoFolder.Jpeg(40, 30, 1, new Random(3)).Take(300).ToArray());

        var refused = Assert.Throws<InvalidDataException>(() => Load(Options(ImageCacheMode.Stream) with { Seed = 4 }));
        Assert.Contains(bad, refused.Message);

        using var data = ImageDataLoaders.FromFolder(Root, valid: null, validPct: 0.25,
            options: Options(ImageCacheMode.Stream) with { OnBadImage = BadImageHandling.Skip, Seed = 4 });
        Assert.Equal(bad, Assert.Single(data.SkippedImages).Path);
        Assert.DoesNotContain(bad, data.Train.Paths.Concat(data.Valid.Paths));
        Assert.Equal(2 * (data.Train.Count / 8), Epochs(data, data.Train, training: true).Count);

        // A file deleted after the checks: the stream meets it mid-epoch and names it. (Validation reads every image;
        // training drops a partial last batch.)
        string gone = data.Valid.Paths[^1];
        File.Delete(gone);
        using var loader = data.Loader(data.Valid, CPU, training: false, data.Normalization!);
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var batch in loader.Batches(0)) batch.Images.Dispose();
        });
        Assert.Contains(gone, e.Message);
        Assert.Contains("while streaming", e.Message);
    }

    /// <summary>
    /// Loaders built inside a caller's dispose scope outlive it: the images, labels and caches they hold are theirs, not
    /// the scope's.
    /// </summary>
    [Theory]
    [InlineData(ImageCacheMode.Memory)]
    [InlineData(ImageCacheMode.Disk)]
    [InlineData(ImageCacheMode.Stream)]
    public void LoadersBuiltInsideADisposeScope_OutliveIt(ImageCacheMode mode)
    {
        PhotoFolder.Write(Root, perClass: 6);
        List<(float[], long[])> expected;
        using (var outside = Load(Options(mode)))
            expected = Epochs(outside, outside.Train, training: true);

        ImageDataLoaders data;
        using (NewDisposeScope())
            data = Load(Options(mode));
        using (data)
        {
            var batches = Epochs(data, data.Train, training: true);
            Assert.Equal(expected.Count, batches.Count);
            for (int b = 0; b < expected.Count; b++)
            {
                Assert.Equal(expected[b].Item2, batches[b].Item2);
                Assert.True(expected[b].Item1.SequenceEqual(batches[b].Item1), $"{mode}: batch {b} differs after the scope ended");
            }
        }
    }

    [Fact]
    public void ADiskCacheWithSkippedImages_ReopensWithTheSameImagesAndTheSameGaps_AndFailStillRefusesThem()
    {
        PhotoFolder.Write(Root, perClass: 6);
        string bad = Path.Combine(Root, "train", "class0", "002.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        var options = Options(ImageCacheMode.Disk) with { OnBadImage = BadImageHandling.Skip };
        List<string> paths;
        List<float[]> pixels;
        using (var first = Load(options))
        {
            Assert.Equal(bad, Assert.Single(first.SkippedImages).Path);
            paths = first.Train.Paths.Concat(first.Valid.Paths).ToList();
            pixels = first.Train.Paths.Select(p => Pixels(first, p)).ToList();
        }
        _log.Clear();
        using var second = Load(options);
        Assert.Contains(_log, l => l.StartsWith("Train images: in the disk cache") && l.Contains("(reused)") || l.StartsWith("Valid images: in the disk cache") && l.Contains("(reused)"));
        Assert.Equal(bad, Assert.Single(second.SkippedImages).Path);
        Assert.Equal(paths, second.Train.Paths.Concat(second.Valid.Paths).ToList());
        Assert.Equal(pixels, second.Train.Paths.Select(p => Pixels(second, p)).ToList());

        // The cache records the skipped file; failing on it stays the choice of the run that reuses the cache.
        var refused = Assert.Throws<InvalidDataException>(() => Load(options with { OnBadImage = BadImageHandling.Fail }));
        Assert.Contains(bad, refused.Message);
        Assert.Contains("BadImageHandling.Skip", refused.Message);
    }

    [Fact]
    public void Predictions_NeverWriteADiskCache_AndAnEmptyListStreamsToNothing()
    {
        PhotoFolder.Write(Root, perClass: 6);
        using var data = Load(Options(ImageCacheMode.Disk));
        using var learner = MLNet.FastAi.Training.Learner.Vision(data, new MLNet.FastAi.Training.VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = MLNet.FastAi.Training.PretrainedSource.None, ShowProgress = false, Device = MLNet.FastAi.Runtime.ComputeDevice.Cpu,
        });
        var before = Directory.GetFiles(CacheFolder).Order().ToList();
        for (int i = 0; i < 3; i++) learner.Predict(data.Valid.Paths.Take(2));
        Assert.Equal(before, Directory.GetFiles(CacheFolder).Order().ToList());

        using var streamed = Load(Options(ImageCacheMode.Stream));
        using var streamLearner = MLNet.FastAi.Training.Learner.Vision(streamed, new MLNet.FastAi.Training.VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = MLNet.FastAi.Training.PretrainedSource.None, ShowProgress = false, Device = MLNet.FastAi.Runtime.ComputeDevice.Cpu,
        });
        Assert.Empty(streamLearner.Predict(Array.Empty<string>()));
        Assert.Equal(2, streamLearner.Predict(streamed.Valid.Paths.Take(2)).Count);
    }

    [Fact]
    public void ClearCache_DeletesTheCacheFiles()
    {
        PhotoFolder.Write(Root, perClass: 4);
        using (Load(Options(ImageCacheMode.Disk))) { }
        Assert.NotEmpty(Directory.GetFiles(CacheFolder));
        Assert.True(ImageDataLoaders.ClearCache(CacheFolder) > 0);
        Assert.False(Directory.Exists(CacheFolder));
    }

    private static float[] Pixels(ImageDataLoaders data, string path)
    {
        int index = data.Train.Paths.ToList().IndexOf(path);
        Assert.True(index >= 0, $"{path} is not a training image");
        using var image = data.Decoded(data.Train).Image(index);
        return image.to(ScalarType.Float32).data<float>().ToArray();
    }
}
