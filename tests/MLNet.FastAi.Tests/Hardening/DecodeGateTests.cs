using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// One decode gate for every path that decodes an image: a 70-byte PNG whose header claims 20,000 × 20,000 pixels is
/// refused by name before anything is decoded — in training and validation folders, in <c>Learner.Predict</c> and
/// <c>GetPreds</c>, and in the ML.NET estimator's path and bytes columns — with the same reason.
/// </summary>
public sealed class DecodeGateTests : IDisposable
{
    private const string Reason = "its header claims 20000×20000 pixels, more than the 100,000,000 allowed";

    private readonly TemporaryFolder _temp = new();

    public DecodeGateTests() => TestTorch.UseOneThread();

    public void Dispose() => _temp.Dispose();

    private string Bomb(string name)
    {
        string path = Path.Combine(_temp.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, HandMadeImages.PngClaiming(20_000, 20_000));
        return path;
    }

    private static ImageDataOptions Small => new() { ImageSize = 16, BatchSize = 4, Seed = 1, Cache = ImageCacheMode.Memory };

    [Fact]
    public void ABombInTheValidationFolder_IsRefusedBeforeAnythingIsDecoded()
    {
        string root = Path.Combine(_temp.Path, "photos");
        PhotoFolder.Write(root, perClass: 4);
        PhotoFolder.Write(root, perClass: 2, split: "valid");
        string bomb = Bomb(Path.Combine("photos", "valid", Path.GetFileName(Directory.GetDirectories(Path.Combine(root, "valid"))[0]), "bomb.png"));

        var refused = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(root, options: Small));

        Assert.Contains(bomb, refused.Message);
        Assert.Contains(Reason, refused.Message);
    }

    [Fact]
    public void PredictAndGetPreds_RefuseABomb_NamingIt_AsTrainingDoes()
    {
        string root = Path.Combine(_temp.Path, "photos");
        PhotoFolder.Write(root, perClass: 4);
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: Small);
        using var learner = Learner.Vision(data, new VisionLearnerOptions { Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false });
        string bomb = Bomb("bomb.png");
        string good = data.Valid.Paths[0];

        var predict = Assert.Throws<InvalidDataException>(() => learner.Predict(bomb));
        var preds = Assert.Throws<InvalidDataException>(() => learner.GetPreds(data.TestSplit([good, bomb])));

        foreach (var refused in new[] { predict, preds })
        {
            Assert.Contains(bomb, refused.Message);
            Assert.Contains(Reason, refused.Message);
        }
        // The learner still predicts the good images afterwards.
        Assert.Equal(data.ClassCount, learner.Predict(good).Probabilities.Length);
    }

    [Theory]
    [InlineData("paths")]
    [InlineData("bytes")]
    public void TheEstimator_RefusesABombInItsColumn_NamingTheRow_BeforeTraining(string form)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(4).ToList();
        rows[2] = new ImageRow { ImagePath = Bomb("rows/bomb.png"), Label = rows[2].Label };
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(rows));
        var data = form == "bytes" ? ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(keyed).Transform(keyed) : keyed;
        var options = Options();
        options.FeatureColumnName = form == "bytes" ? "Image" : "ImagePath";
        options.ValidationFraction = 0.25;
        var counter = new BatchCounter();
        options.Callbacks = [counter];

        var refused = Assert.Throws<InvalidDataException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data));

        Assert.Contains(form == "bytes" ? "row 2 of the training data" : rows[2].ImagePath, refused.Message);
        Assert.Contains(Reason, refused.Message);
        Assert.Equal(0, counter.Batches);
    }
}
