using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Hardening;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// Resizing resamples smoothly where fastai's does (PIL's bilinear), in what training sees and in what the saved
/// ML.NET model replays: a 28×28 noise image upscaled eight times to 224×224 shows no 8×8 blocks of one value, the
/// mark of nearest-neighbour sampling.
/// </summary>
public sealed class ResizeSmoothnessTests(ITestOutputHelper output) : IDisposable
{
    private const int Source = 28, Target = 224, Factor = Target / Source;
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(ResizeMethod.Crop)]
    [InlineData(ResizeMethod.Pad)]
    [InlineData(ResizeMethod.Squish)]
    public void Upscaling_HasNoNearestNeighbourBlocks_InTrainingNorInTheSavedModel(ResizeMethod method)
    {
        var (training, saved) = FlatBlockShares(method);
        output.WriteLine($"{method}: share of 8×8 blocks of one value: training {training:P1}, saved model {saved:P1}");
        // Nearest-neighbour makes every block flat (100%); a smooth filter leaves none flat on noise.
        Assert.True(training < 0.01, $"{method}: {training:P1} of the training pixels' 8×8 blocks hold one value");
        Assert.True(saved < 0.01, $"{method}: {saved:P1} of the saved model's 8×8 blocks hold one value");
    }

    [Fact]
    public void TheDefault_IsFastAisCrop()
    {
        Assert.Equal(ResizeMethod.Crop, new ImageDataOptions().Resize);
        Assert.Equal(ResizeMethod.Crop, new MLNet.FastAi.Pipelines.FastAiCnnOptions().Resize);
    }

    /// <summary>
    /// Stretching needs ImageAnalytics' nearest-neighbour Fill, so Squish takes only images of the target's proportions
    /// and refuses the others by name before decoding anything, in training and in predictions.
    /// </summary>
    [Fact]
    public void Squish_RefusesImagesItWouldStretch_BeforeDecoding_NamingOne()
    {
        TestTorch.UseOneThread();
        string root = NoiseFolder("stretch", Source, Source);
        string wide = Path.Combine(root, "train", "b", "wide.png");
        File.WriteAllBytes(wide, HandMadeImages.RgbPng(40, Source, (x, y) => ((byte)x, (byte)y, 0)));
        string cache = Path.Combine(_temp.Path, "cache");
        var options = new ImageDataOptions { ImageSize = Target, Resize = ResizeMethod.Squish, BatchSize = 4, Seed = 1, Cache = ImageCacheMode.Disk, CacheFolder = cache, Log = _ => { } };
        var refusal = Assert.Throws<OptionException>(() => ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: options));
        Assert.Equal(OptionKey.Resize, refusal.Option);
        output.WriteLine(refusal.Message);
        Assert.Contains(wide, refusal.Message);
        Assert.Contains("40×28", refusal.Message);
        Assert.Contains("ImageDataOptions.Resize", refusal.Message);
        Assert.Contains("nearest-neighbour", refusal.Message);
        Assert.False(Directory.Exists(cache) && Directory.EnumerateFiles(cache).Any(), "pixels were cached before the refusal");

        // Square images train; a model trained so refuses to stretch the image it is asked about.
        File.Delete(wide);
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: options with { Cache = ImageCacheMode.Memory });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        File.WriteAllBytes(wide, HandMadeImages.RgbPng(40, Source, (x, y) => ((byte)x, (byte)y, 0)));
        var atPredict = Assert.Throws<ArgumentException>(() => learner.Predict(wide));
        Assert.Contains(wide, atPredict.Message);
        Assert.Contains("Squish", atPredict.Message);
    }

    /// <summary>
    /// Presizing stores training images stretched to the item size for the batch's square crop; that stretch is smooth
    /// too: no blocks when enlarging, and no aliasing when shrinking (a one-pixel checkerboard shrunk four times is grey,
    /// where sampling every fourth pixel would keep one colour).
    /// </summary>
    [Fact]
    public void PresizedTrainingImages_AreStretchedSmoothly_UpAndDown()
    {
        TestTorch.UseOneThread();
        var up = new ImagePipelineProbe(_temp.Path, Source, Source, Source * Factor, (_, _) => Noise());
        double flat = FlatShare(up.Pixels);
        output.WriteLine($"stretched up {Source}→{Source * Factor}: {flat:P1} of 8×8 blocks hold one value");
        Assert.True(flat < 0.01, $"{flat:P1} of the stretched training pixels' 8×8 blocks hold one value");

        var down = new ImagePipelineProbe(_temp.Path, 4 * Source, 4 * Source, Source, (x, y) => (x + y) % 2 == 0 ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0));
        using var scope = NewDisposeScope();
        double mean = down.Pixels.mean().item<float>(), spread = down.Pixels.std().item<float>();
        output.WriteLine($"checkerboard shrunk 4×: mean {mean:F3}, standard deviation {spread:F3} (of 0..1)");
        Assert.InRange(mean, 0.4, 0.6);
        Assert.True(spread < 0.1, $"the shrunk checkerboard varies by {spread:F3}: it aliased");

        // A 2:1 photo, red on the left and blue on the right, is stretched whole: red fills the left half of the square.
        var wide = new ImagePipelineProbe(_temp.Path, 2 * Source, Source, 2 * Source, (x, _) => x < Source ? ((byte)230, (byte)20, (byte)20) : ((byte)20, (byte)20, (byte)230));
        var red = wide.Pixels.select(1, 0) > wide.Pixels.select(1, 2);
        double left = red.narrow(2, 0, Source - 1).to(ScalarType.Float32).mean().item<float>();
        double right = red.narrow(2, Source + 1, Source - 1).to(ScalarType.Float32).mean().item<float>();
        output.WriteLine($"2:1 red|blue stretched: red share of the left half {left:P0}, of the right half {right:P0}");
        Assert.True(left == 1 && right == 0, $"red covers {left:P0} of the left half and {right:P0} of the right half");
    }

    private readonly Random _noise = new(3);

    private (byte, byte, byte) Noise() => ((byte)_noise.Next(256), (byte)_noise.Next(256), (byte)_noise.Next(256));

    /// <summary>A two-class folder of noise images of the given size.</summary>
    private string NoiseFolder(string name, int width, int height)
    {
        string root = Path.Combine(_temp.Path, name);
        foreach (var label in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(root, "train", label));
            for (int i = 0; i < 4; i++)
                File.WriteAllBytes(Path.Combine(root, "train", label, $"{i}.png"), HandMadeImages.RgbPng(width, height, (_, _) => Noise()));
        }
        return root;
    }

    /// <summary>The pixels (0..1) presizing stores for training images of a given size and content.</summary>
    private sealed class ImagePipelineProbe
    {
        public ImagePipelineProbe(string folder, int width, int height, int item, Func<int, int, (byte, byte, byte)> pixel)
        {
            string root = Path.Combine(folder, $"probe{width}x{height}to{item}");
            foreach (var label in new[] { "a", "b" })
            {
                Directory.CreateDirectory(Path.Combine(root, "train", label));
                for (int i = 0; i < 2; i++) File.WriteAllBytes(Path.Combine(root, "train", label, $"{i}.png"), HandMadeImages.RgbPng(width, height, pixel));
            }
            using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: new ImageDataOptions
            {
                ImageSize = Math.Min(item, 16), ItemSize = item, BatchSize = 3, Seed = 1, Normalization = NormalizationStats.None, Log = _ => { },
            });
            Assert.True(data.TrainPipeline.IsTrainingStretch);
            var set = data.Decoded(data.Train);
            using var scope = NewDisposeScope();
            Pixels = stack(Enumerable.Range(0, (int)set.Count).Select(i => set.Image(i))).to(ScalarType.Float32).div(255).MoveToOuterDisposeScope();
        }

        public Tensor Pixels { get; }
    }

    /// <summary>The share of flat 8×8 blocks in the decoded training images and in the saved model's pixels.</summary>
    private (double Training, double Saved) FlatBlockShares(ResizeMethod method, List<string>? log = null)
    {
        TestTorch.UseOneThread();
        var random = new Random(3);
        string root = Path.Combine(_temp.Path, method.ToString());
        foreach (var label in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(root, "train", label));
            for (int i = 0; i < 4; i++)
                File.WriteAllBytes(Path.Combine(root, "train", label, $"{i}.png"),
                    HandMadeImages.RgbPng(Source, Source, (_, _) => ((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256))));
        }
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: new ImageDataOptions
        {
            ImageSize = Target, Resize = method, BatchSize = 4, Seed = 1, Normalization = NormalizationStats.None,
            Log = line => log?.Add(line),
        });
        double training;
        using (var scope = NewDisposeScope())
        using (var loader = data.Loader(data.Train, CPU, training: false, NormalizationStats.None))
            training = FlatShare(loader.Batches(0).First().Images);

        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        var context = new MLContext(seed: 1);
        string zip = learner.SaveMLNetModel(context, Path.Combine(_temp.Path, $"{method}.zip"));
        var loaded = context.Model.Load(zip, out _);
        using var release = loaded as IDisposable;
        var model = (IEnumerable<ITransformer>)loaded;
        IDataView view = context.Data.LoadFromEnumerable(data.Train.Paths.Take(4).Select(p => new ImageRow { ImagePath = p }));
        // Run the saved chain up to its pixel vector: the float column of 3 × 224 × 224 values it hands the network.
        foreach (var step in model)
        {
            view = step.Transform(view);
            if (view.Schema.FirstOrDefault(c => c.Type is VectorDataViewType { Size: 3 * Target * Target, ItemType: var t } && t == NumberDataViewType.Single) is { Name: not null } pixels)
            {
                var values = view.GetColumn<float[]>(pixels.Name).ToArray();
                using var scope = NewDisposeScope();
                return (training, FlatShare(tensor(values.SelectMany(v => v).ToArray()).reshape(values.Length, 3, Target, Target)));
            }
        }
        throw new InvalidOperationException("The saved model has no pixel column of 3 × 224 × 224 floats.");
    }

    /// <summary>The share of the 8×8 blocks (aligned with the upscaling) in which every value is the same.</summary>
    private static double FlatShare(Tensor images)
    {
        using var blocks = images.reshape(images.shape[0], 3, Source, Factor, Source, Factor);
        using var spread = blocks.amax(new long[] { 3, 5 }) - blocks.amin(new long[] { 3, 5 });
        return (spread == 0).to(ScalarType.Float32).mean().item<float>();
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }
}
