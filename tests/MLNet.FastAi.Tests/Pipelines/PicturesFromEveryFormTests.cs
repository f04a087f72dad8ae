using Microsoft.ML;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Data.Sources.Columns;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using SkiaSharp;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// A model trained from any form of image column — paths, loaded images (<c>MLImage</c>), encoded bytes — draws its
/// pictures: top losses through <see cref="MLNetInterpretation"/> and through the learner, and <c>show_results</c>,
/// each tile the very image of its row, after Fit released the decoded images.
/// </summary>
public sealed class PicturesFromEveryFormTests : IDisposable
{
    private readonly TemporaryFolder _temp = new();

    public PicturesFromEveryFormTests() => TestTorch.UseOneThread();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> Forms() => new() { "paths", "MLImage", "bytes" };

    [Theory]
    [MemberData(nameof(Forms))]
    public void TopLossesAndResults_ShowTheImageOfEachRow(string form)
    {
        var ml = new MLContext(seed: 1);
        var keys = KeyMapping(ml);
        IEstimator<ITransformer>? load = form switch
        {
            "MLImage" => ml.Transforms.LoadImages("Image", "", "ImagePath"),
            "bytes" => ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath"),
            _ => null,
        };
        string column = load is null ? "ImagePath" : "Image";
        var raw = ml.Data.LoadFromEnumerable(Rows(6));
        var prepare = load is null ? keys : keys.Append(load.Fit(keys.Transform(raw)));
        var validRows = Rows(3, skip: 6);
        var train = prepare.Transform(raw);
        var valid = prepare.Transform(ml.Data.LoadFromEnumerable(validRows));
        var options = Options();
        options.FeatureColumnName = column;
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train, valid);
        Assert.Equal(0, model.Learner.Data.DecodedSplitCount);  // released: every picture below reads its image again

        var fromModel = MLNetInterpretation.FromModel(model, valid, imageColumnName: column);
        var top = fromModel.TopLosses(4);
        AssertSameImages(top.Select(t => validRows[t.Index].ImagePath), fromModel.TopLossTiles(4));
        AssertPng(fromModel.PlotTopLosses(Path.Combine(_temp.Path, "model-top-losses.png")));

        var fromLearner = ClassificationInterpretation.FromLearner(model.Learner);
        Assert.Equal(validRows.Length, fromLearner.Losses.Length);
        var learnerTop = fromLearner.TopLosses(4);
        if (form != "paths") Assert.All(learnerTop, t => Assert.Equal($"row {t.Index} of the validation data", t.ImagePath));
        AssertSameImages(learnerTop.Select(t => validRows[t.Index].ImagePath), fromLearner.TopLossTiles(4));
        AssertPng(model.Learner.ShowResults(Path.Combine(_temp.Path, "results.png"), maxCount: 4));
    }

    /// <summary>Colour photos (MNIST is grey, where red and blue cannot be told apart): every form shows the file's own colours.</summary>
    [Theory]
    [InlineData("MLImage")]
    [InlineData("bytes")]
    public void ColumnImages_ShowTheirColoursAsTheFilesDo(string form)
    {
        var kind = form == "MLImage" ? ImageColumnKind.Image : ImageColumnKind.EncodedBytes;
        var ml = new MLContext(seed: 1);
        var random = new Random(5);
        var files = Enumerable.Range(0, 3).Select(i =>
        {
            string path = Path.Combine(_temp.Path, $"photo{i}.jpg");
            File.WriteAllBytes(path, PhotoFolder.Jpeg(40 + 8 * i, 30, i, random));
            return path;
        }).ToList();
        var paths = ml.Data.LoadFromEnumerable(files.Select(f => new ImageRow { ImagePath = f, Label = "3" }));
        var view = kind == ImageColumnKind.Image
            ? ml.Transforms.LoadImages("Image", "", "ImagePath").Fit(paths).Transform(paths)
            : ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(paths).Transform(paths);
        var images = new ColumnImages(new ImageColumn(view, "Image", kind, "data"), [0, 1, 2]);

        AssertSameImages([files[2], files[0]], ImageTile.FromSource(images, [2, 0]).ToList());
    }

    [Fact]
    public void AColumnOfAnotherType_IsRefusedNamingTheForms()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(4)));
        var options = Options();
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(keyed);

        var e = Assert.Throws<ArgumentException>(() => MLNetInterpretation.FromModel(model, keyed, imageColumnName: "Score"));
        Assert.Contains("Image column 'Score'", e.Message);
        Assert.Contains("loaded images (MLImage, from LoadImages) or encoded image bytes", e.Message);
    }

    /// <summary>Each tile holds exactly the pixels of its file, decoded apart.</summary>
    private static void AssertSameImages(IEnumerable<string> files, IReadOnlyList<ImageTile> tiles)
    {
        var expected = files.ToList();
        Assert.Equal(expected.Count, tiles.Count);
        for (int i = 0; i < tiles.Count; i++)
        {
            using var want = ImageTile.FromFile(expected[i]).ToBitmap();
            using var got = tiles[i].ToBitmap();
            Assert.Equal((want.Width, want.Height), (got.Width, got.Height));
            Assert.True(want.Bytes.AsSpan().SequenceEqual(got.Bytes), $"tile {i} is not the image of '{expected[i]}'");
        }
    }

    private static void AssertPng(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width > 50 && bitmap.Height > 50);
    }
}
