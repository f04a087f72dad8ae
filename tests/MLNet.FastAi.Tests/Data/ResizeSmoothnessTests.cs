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
    public void Upscaling_HasNoNearestNeighbourBlocks_InTrainingNorInTheSavedModel(ResizeMethod method)
    {
        var (training, saved) = FlatBlockShares(method);
        output.WriteLine($"{method}: share of 8×8 blocks of one value: training {training:P1}, saved model {saved:P1}");
        // Nearest-neighbour makes every block flat (100%); a smooth filter leaves none flat on noise.
        Assert.True(training < 0.01, $"{method}: {training:P1} of the training pixels' 8×8 blocks hold one value");
        Assert.True(saved < 0.01, $"{method}: {saved:P1} of the saved model's 8×8 blocks hold one value");
    }

    [Fact]
    public void TheDefault_IsFastAisCrop_AndSquish_StillNearestNeighbour_IsLoggedAsSuch()
    {
        Assert.Equal(ResizeMethod.Crop, new ImageDataOptions().Resize);
        Assert.Equal(ResizeMethod.Crop, new MLNet.FastAi.Pipelines.FastAiCnnOptions().Resize);
        var log = new List<string>();
        var (training, saved) = FlatBlockShares(ResizeMethod.Squish, log);
        output.WriteLine($"Squish: share of 8×8 blocks of one value: training {training:P1}, saved model {saved:P1}");
        Assert.True(training > 0.99 && saved > 0.99, "Squish no longer samples nearest-neighbour: update its log line and README");
        Assert.Contains(log, line => line.Contains("nearest-neighbour", StringComparison.Ordinal) && line.Contains("Crop", StringComparison.Ordinal));
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
        var model = (IEnumerable<ITransformer>)context.Model.Load(zip, out _);
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
