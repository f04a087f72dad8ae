using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using SkiaSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// fastai's presizing: training images decoded at a larger item size, cropped per batch to the model's size (a square
/// of the photo's own proportions, then a random resized crop); validation images resized straight to the model's size,
/// which is what the saved ML.NET model replays.
/// </summary>
public sealed class PresizingTests(ITestOutputHelper output) : IDisposable
{
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static ImageDataOptions Presized => new()
    {
        ImageSize = 24, ItemSize = 40, Resize = ResizeMethod.Crop, BatchSize = 8, Seed = 5, Normalization = NormalizationStats.None, Log = _ => { },
    };

    [Fact]
    public void TrainingImagesAreStoredAtTheItemSize_AndBatchedAtTheImageSize_ValidationAtTheImageSize()
    {
        TestTorch.UseOneThread();
        string root = PhotoFolder.Write(_temp.Path, perClass: 8);
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: Presized with { Augmentation = AugmentationOptions.Default with { MinScale = 0.75f } });
        Assert.Equal(40, data.TrainPipeline.Width);
        Assert.True(data.TrainPipeline.IsTrainingStretch);
        Assert.Equal(new MLNet.FastAi.Data.Decoding.ImagePipeline(24, 24, ResizeMethod.Crop), data.Pipeline);
        Assert.Equal(40, data.Decoded(data.Train).Height);
        Assert.Equal(24, data.Decoded(data.Valid).Height);

        using var train = data.Loader(data.Train, CPU, training: true, NormalizationStats.None);
        using var valid = data.Loader(data.Valid, CPU, training: false, NormalizationStats.None);
        foreach (var batch in train.Batches(0)) Assert.Equal(new long[] { 8, 3, 24, 24 }, batch.Images.shape);
        foreach (var batch in valid.Batches(0)) Assert.Equal(24, batch.Images.shape[3]);
    }

    /// <summary>
    /// A 2:1 photo, red on the left half and blue on the right: the crop is a square of the photo's proportions taken
    /// at a random place across its width (so some batches see mostly red, others mostly blue), and a centre square for
    /// predictions — never the whole squished photo, which would always be half and half.
    /// </summary>
    [Fact]
    public void TheItemCrop_IsASquareOfThePhotosProportions_AtARandomPlaceAcrossItsLongerSide()
    {
        TestTorch.UseOneThread();
        for (int c = 0; c < 2; c++)
        {
            string folder = Path.Combine(_temp.Path, "halves", "train", $"c{c}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < 8; i++) File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), HalvesPng(80, 40));
        }
        using var data = ImageDataLoaders.FromFolder(Path.Combine(_temp.Path, "halves"), valid: null, validPct: 0.25, options: Presized);

        var redShares = new List<double>();
        using (var loader = data.Loader(data.Train, CPU, training: true, NormalizationStats.None))
            for (int epoch = 0; epoch < 6; epoch++)
                foreach (var batch in loader.Batches(epoch))
                    for (int i = 0; i < batch.Images.shape[0]; i++) redShares.Add(RedShare(batch.Images[i]));
        output.WriteLine($"red share of the training crops: min {redShares.Min():F2}, max {redShares.Max():F2}");
        Assert.True(redShares.Min() < 0.15, $"no crop was mostly blue (min red share {redShares.Min():F2})");
        Assert.True(redShares.Max() > 0.85, $"no crop was mostly red (max red share {redShares.Max():F2})");

        using var ordered = data.OrderedLoader(data.Train, CPU, NormalizationStats.None, augmentation: null, seed: 1);
        var centred = ordered.Batches(0).First().Images;
        for (int i = 0; i < centred.shape[0]; i++) Assert.InRange(RedShare(centred[i]), 0.45, 0.55);
    }

    /// <summary>
    /// Predictions on presized training images take the centre square of the photo: for a 2:1 photo whose left quarter
    /// is red, none of it (the whole squished photo would show a quarter of red).
    /// </summary>
    [Fact]
    public void PredictionsOnPresizedTrainingImages_TakeTheCentreSquare()
    {
        TestTorch.UseOneThread();
        for (int c = 0; c < 2; c++)
        {
            string folder = Path.Combine(_temp.Path, "quarter", "train", $"c{c}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < 4; i++) File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), StripesPng(80, 40, redColumns: 20));
        }
        using var data = ImageDataLoaders.FromFolder(Path.Combine(_temp.Path, "quarter"), valid: null, validPct: 0.25, options: Presized);
        using var ordered = data.OrderedLoader(data.Train, CPU, NormalizationStats.None, augmentation: null, seed: 1);
        var centred = ordered.Batches(0).First().Images;
        for (int i = 0; i < centred.shape[0]; i++) Assert.True(RedShare(centred[i]) < 0.02, $"the centre square shows {RedShare(centred[i]):P0} red");
    }

    /// <summary>
    /// MinScale below 1 crops each training image to a random square of at least that share of its area: on a square
    /// image whose left half is red, the red share of the crops spreads well beyond the half the whole image shows.
    /// </summary>
    [Fact]
    public void MinScale_CropsARandomSquareOfEachImage()
    {
        TestTorch.UseOneThread();
        for (int c = 0; c < 2; c++)
        {
            string folder = Path.Combine(_temp.Path, "square", "train", $"c{c}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < 8; i++) File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), StripesPng(40, 40, redColumns: 20));
        }
        var noWarpOrLighting = AugmentationOptions.Default with { DoFlip = false, MaxRotate = 0, MaxZoom = 1, MaxWarp = 0, MaxLighting = 0 };
        double Spread(float minScale)
        {
            using var data = ImageDataLoaders.FromFolder(Path.Combine(_temp.Path, "square"), valid: null, validPct: 0.25,
                options: new ImageDataOptions { ImageSize = 24, BatchSize = 4, Seed = 5, Log = _ => { }, Augmentation = noWarpOrLighting with { MinScale = minScale } });
            using var loader = data.Loader(data.Train, CPU, training: true, NormalizationStats.None);
            var shares = new List<double>();
            for (int epoch = 0; epoch < 4; epoch++)
                foreach (var batch in loader.Batches(epoch))
                    for (int i = 0; i < batch.Images.shape[0]; i++) shares.Add(RedShare(batch.Images[i]));
            return shares.Max() - shares.Min();
        }
        double whole = Spread(1f), cropped = Spread(0.25f);
        output.WriteLine($"spread of the red share: MinScale 1 {whole:F2}, MinScale 0.25 {cropped:F2}");
        Assert.True(whole < 0.05, $"without crops every image shows half red, but the share spread {whole:F2}");
        Assert.True(cropped > 0.4, $"with MinScale 0.25 the crops' red share spread only {cropped:F2}");
    }

    [Fact]
    public void TheSavedModel_ScoresValidationImagesAsTheLearnerDoes()
    {
        TestTorch.UseOneThread();
        string root = PhotoFolder.Write(_temp.Path, perClass: 8);
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25,
            options: Presized with { Normalization = NormalizationStats.ImageNet, Augmentation = AugmentationOptions.Default with { MinScale = 0.75f } });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 2,
        });
        learner.Fit(1, 1e-3);
        var preds = learner.GetPreds(data.Valid);

        var context = new MLContext(seed: 1);
        string zip = learner.SaveMLNetModel(context, Path.Combine(_temp.Path, "model.zip"));
        var model = context.Model.Load(zip, out _);
        using var release = model as IDisposable;
        var rows = context.Data.LoadFromEnumerable(data.Valid.Paths.Select(p => new Row { ImagePath = p }));
        var scores = model.Transform(rows).GetColumn<float[]>("Score").ToArray();

        double maxDiff = scores.Zip(preds.Probabilities, (s, p) => s.Zip(p, (a, b) => Math.Abs(a - b)).Max()).Max();
        output.WriteLine($"max |zip - GetPreds| over {scores.Length} validation images: {maxDiff:E2}");
        Assert.Equal(data.Valid.Count, scores.Length);
        Assert.True(maxDiff < Tolerances.Probability, $"max |zip - GetPreds| = {maxDiff}");
        Assert.True(preds.Probabilities.SelectMany(p => p).Max() - preds.Probabilities.SelectMany(p => p).Min() > 0.05, "scores nearly uniform: the comparison would prove little");
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
    }

    private static double RedShare(Tensor image)
    {
        using var scope = NewDisposeScope();
        var red = image[0];
        var blue = image[2];
        return (red > blue).to(ScalarType.Float32).mean().item<float>();
    }

    private static byte[] StripesPng(int width, int height, int redColumns)
    {
        using var bitmap = new SKBitmap(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, x < redColumns ? new SKColor(230, 20, 20) : new SKColor(20, 20, 230));
        using var image = SKImage.FromBitmap(bitmap);
        return image.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }

    private static byte[] HalvesPng(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, x < width / 2 ? new SKColor(230, 20, 20) : new SKColor(20, 20, 230));
        using var image = SKImage.FromBitmap(bitmap);
        return image.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }
}
