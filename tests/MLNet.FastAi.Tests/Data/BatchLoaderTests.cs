using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using SkiaSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Data;

/// <summary>70 training and 25 validation MNIST digits at 16×16, batch 32 (validation batch 10), with fastai's default augmentation.</summary>
public sealed class AugmentedDigitsFixture : IDisposable
{
    public AugmentedDigitsFixture()
    {
        TestTorch.UseOneThread();
        Data = ImageDataLoaders.FromSplits(MnistSample.Take("training", 7), MnistSample.Take("training", 3, skip: 7).Take(25), options: new ImageDataOptions
        {
            ImageSize = 16, BatchSize = 32, ValidBatchSize = 10, Seed = 5, Normalization = NormalizationStats.Mnist, Augmentation = AugmentationOptions.Default,
        });
    }

    public ImageDataLoaders Data { get; }

    public NormalizationStats Stats => Data.Normalization!;

    public void Dispose() => Data.Dispose();
}

/// <summary>Mini-batches: shapes and types, fastai's drop_last and ordering rules, augmentation, normalization.</summary>
public class BatchLoaderTests(AugmentedDigitsFixture fixture) : IClassFixture<AugmentedDigitsFixture>
{
    private ImageDataLoaders Data => fixture.Data;

    [Fact]
    public void TrainingBatches_AreFullFloatImageBatchesWithInt64Labels_ShuffledPerEpoch_DroppingTheLastPartialBatch()
    {
        using var loader = Data.Loader(Data.Train, CPU, training: true, fixture.Stats);
        Assert.Equal(2, loader.BatchCount);  // 70 images: two batches of 32, the last 6 dropped (fastai drop_last=True)

        long[] EpochIndices(int epoch)
        {
            var seen = new List<long>();
            foreach (var batch in loader.Batches(epoch))
            {
                using var scope = NewDisposeScope();
                Assert.Equal(new long[] { 32, 3, 16, 16 }, batch.Images.shape);
                Assert.Equal(ScalarType.Float32, batch.Images.dtype);
                Assert.Equal(new long[] { 32 }, batch.Labels.shape);
                Assert.Equal(ScalarType.Int64, batch.Labels.dtype);
                var indices = batch.Indices.data<long>().ToArray();
                Assert.Equal(indices.Select(i => (long)Data.Train.LabelIndices[(int)i]), batch.Labels.data<long>().ToArray());
                seen.AddRange(indices);
            }
            return seen.ToArray();
        }

        var first = EpochIndices(0);
        Assert.Equal(64, first.Distinct().Count());
        Assert.All(first, i => Assert.InRange(i, 0, 69));
        Assert.NotEqual(first.Order(), first);  // shuffled
        Assert.Equal(first, EpochIndices(0));   // the same epoch of the same seed shuffles the same way
        Assert.NotEqual(first, EpochIndices(1));
    }

    [Fact]
    public void ValidationBatches_KeepEveryImageInOrder_WithAPartialLastBatch_AndNoAugmentation()
    {
        using var loader = Data.Loader(Data.Valid, CPU, training: false, fixture.Stats);
        using var plain = new BatchLoader(Data.Decoded(Data.Valid), 10, shuffle: false, dropLast: false, CPU, fixture.Stats, augmentation: null, seed: 0);
        Assert.Equal(3, loader.BatchCount);

        var sizes = new List<long>();
        var indices = new List<long>();
        foreach (var (batch, reference) in loader.Batches(0).Zip(plain.Batches(0)))
        {
            using var scope = NewDisposeScope();
            sizes.Add(batch.Images.shape[0]);
            indices.AddRange(batch.Indices.data<long>().ToArray());
            Assert.Equal(Enumerable.Range((int)batch.Indices[0].item<long>(), (int)batch.Images.shape[0]).Select(i => (long)Data.Valid.LabelIndices[i]),
                batch.Labels.data<long>().ToArray());
            Assert.True((batch.Images - reference.Images).abs().max().item<float>() == 0, "validation batches must not be augmented even when the data has augmentation");
        }
        Assert.Equal(new long[] { 10, 10, 5 }, sizes);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), indices);
    }

    [Fact]
    public void Augmentation_ChangesTrainingPixels_ButNotLabelsOrShapes()
    {
        using var augmented = Data.Loader(Data.Train, CPU, training: true, fixture.Stats);
        using var plain = new BatchLoader(Data.Decoded(Data.Train), 32, shuffle: true, dropLast: true, CPU, fixture.Stats, augmentation: null, Data.Seed);

        foreach (var (a, p) in augmented.Batches(0).Zip(plain.Batches(0)))
        {
            using var scope = NewDisposeScope();
            Assert.Equal(p.Indices.data<long>().ToArray(), a.Indices.data<long>().ToArray());
            Assert.Equal(p.Labels.data<long>().ToArray(), a.Labels.data<long>().ToArray());
            Assert.Equal(p.Images.shape, a.Images.shape);
            Assert.True(a.Images.isfinite().all().item<bool>());
            double change = (a.Images - p.Images).abs().mean().item<float>();
            Assert.True(change > 0.05, $"augmented pixels differ from the plain ones by only {change} on average");
        }
    }

    [Fact]
    public void Augmentation_IsReproducibleWithTheSameSeed_AndDifferentWithAnother()
    {
        float[] FirstBatch(int seed)
        {
            using var loader = Data.OrderedLoader(Data.Train, CPU, fixture.Stats, AugmentationOptions.Default, seed);
            using var scope = NewDisposeScope();
            return loader.Batches(0).First().Images.data<float>().ToArray();
        }

        var first = FirstBatch(1);
        Assert.Equal(first, FirstBatch(1));
        Assert.NotEqual(first, FirstBatch(2));
    }

    /// <summary>
    /// The shuffle of an epoch is a fixed function of the seed — the same in every process, not only within one
    /// (it used to come from <see cref="HashCode"/>, which .NET randomizes per process). The expected order was recorded
    /// from this libtorch's generator; a change of TorchSharp's random engine would change it too.
    /// </summary>
    [Fact]
    public void Shuffle_IsTheSameInEveryProcess_ForAGivenSeedAndEpoch()
    {
        using var loader = new BatchLoader(Data.Decoded(Data.Train), 32, shuffle: true, dropLast: true, CPU, fixture.Stats, augmentation: null, seed: 5);
        using var scope = NewDisposeScope();
        var epoch0 = loader.Batches(0).First().Indices.data<long>().Take(8).ToArray();
        var epoch1 = loader.Batches(1).First().Indices.data<long>().Take(8).ToArray();
        Assert.Equal(ExpectedEpoch0, epoch0);
        Assert.Equal(ExpectedEpoch1, epoch1);
        // The expected orders above pin the seeds across processes; here: every (seed, epoch) pair nearby gets its own
        // seed, within the 32 bits libtorch's CPU generator keeps.
        var seeds = Enumerable.Range(0, 10).SelectMany(seed => Enumerable.Range(0, 100).Select(epoch => BatchLoader.EpochSeed(seed, epoch))).ToList();
        Assert.Equal(seeds.Count, seeds.Distinct().Count());
        Assert.All(seeds, s => Assert.True(s <= uint.MaxValue));
    }

    private static readonly long[] ExpectedEpoch0 = { 23, 30, 39, 40, 54, 27, 43, 4 };
    private static readonly long[] ExpectedEpoch1 = { 44, 59, 8, 33, 69, 49, 47, 6 };

    [Fact]
    public void Normalization_MapsConstantImagesTo_ValueMinusMeanOverStd_AndDenormalizeInvertsIt()
    {
        // Solid colours: ImageNet's mean (as bytes), mean + one std, black, white.
        var colours = new (byte R, byte G, byte B)[] { (124, 116, 104), (182, 173, 161), (0, 0, 0), (255, 255, 255) };
        using var temp = new TemporaryFolder();
        string[] Solids(string split) => colours.Select((c, i) =>
        {
            string path = Path.Combine(temp.Path, $"{split}-solid{i}.png");
            using var bitmap = new SKBitmap(8, 8, SKColorType.Rgba8888, SKAlphaType.Premul);
            bitmap.Erase(new SKColor(c.R, c.G, c.B));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, png.ToArray());
            return path;
        }).ToArray();
        var stats = NormalizationStats.ImageNet;
        using var data = ImageDataLoaders.FromSplits(Solids("train").Select((f, i) => (f, i % 2 == 0 ? "even" : "odd")), Solids("valid").Select((f, i) => (f, i % 2 == 0 ? "even" : "odd")),
            options: new ImageDataOptions { ImageSize = 8, Normalization = stats });
        using var loader = data.Loader(data.Valid, CPU, training: false, stats);
        using var scope = NewDisposeScope();
        var batch = loader.Batches(0).Single();

        for (int image = 0; image < colours.Length; image++)
            for (int c = 0; c < 3; c++)
            {
                byte value = c == 0 ? colours[image].R : c == 1 ? colours[image].G : colours[image].B;
                double expected = (value / 255.0 - stats.Mean[c]) / stats.Std[c];
                var plane = batch.Images[image, c];
                Assert.Equal(expected, plane.mean().item<float>(), 5);
                Assert.Equal(0, plane.std().item<float>(), 5);
            }
        // At the mean: 0; one standard deviation above it: 1 (up to the byte rounding of the colours).
        for (int c = 0; c < 3; c++)
        {
            double rounding = 0.5 / 255 / stats.Std[c];
            Assert.InRange(batch.Images[0, c].mean().item<float>(), -rounding, rounding);
            Assert.InRange(batch.Images[1, c].mean().item<float>(), 1 - rounding, 1 + rounding);
        }
        var restored = loader.Denormalize(batch.Images);
        for (int image = 0; image < colours.Length; image++)
            Assert.Equal(colours[image].R / 255.0, restored[image, 0].mean().item<float>(), 5);
    }
}
