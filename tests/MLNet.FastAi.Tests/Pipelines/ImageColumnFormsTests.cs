using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using Xunit.Abstractions;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// Every form an ML.NET pipeline hands an image in — paths, <c>MLImage</c> from LoadImages (with and without
/// ResizeImages), encoded bytes from LoadRawImageBytes — trains, evaluates, and either saves a stock model that
/// reloads to the learner's own TorchSharp predictions, or (bytes) refuses to save, naming the column.
/// </summary>
public sealed class ImageColumnFormsTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TemporaryFolder _temp = new();

    public ImageColumnFormsTests(ITestOutputHelper output)
    {
        _output = output;
        TestTorch.UseOneThread();
    }

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> Forms() => new() { "paths", "MLImage", "resized MLImage", "bytes" };

    /// <summary>The image transforms a user's pipeline puts before the trainer, and the column the trainer reads.</summary>
    private static (IEstimator<ITransformer>? Steps, string Column, int? ImageSize) Preprocessing(MLContext ml, string form) => form switch
    {
        "paths" => (null, "ImagePath", 16),
        // MNIST digits are all 28×28: without ImageSize the estimator reads each image once to find that out.
        "MLImage" => (ml.Transforms.LoadImages("Image", "", "ImagePath"), "Image", null),
        // ResizeImages declares the size in the column's type; the estimator takes it from there.
        "resized MLImage" => (ml.Transforms.LoadImages("Loaded", "", "ImagePath").Append(ml.Transforms.ResizeImages("Image", 16, 16, "Loaded")), "Image", null),
        "bytes" => (ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath"), "Image", null),
        _ => throw new ArgumentException(form),
    };

    [Theory]
    [MemberData(nameof(Forms))]
    [Trait("Category", "Slow")]
    public void EachForm_TrainsAndEvaluates_AndItsSavedModel_ScoresTheValidationImagesLikeTheLearner(string form)
    {
        var ml = new MLContext(seed: 1);
        var keys = KeyMapping(ml);
        var (steps, column, imageSize) = Preprocessing(ml, form);
        var raw = ml.Data.LoadFromEnumerable(Rows(8));
        var prepare = steps is null ? keys : keys.Append(steps.Fit(keys.Transform(raw)));
        var train = prepare.Transform(raw);
        var valid = prepare.Transform(ml.Data.LoadFromEnumerable(Rows(4, skip: 8)));
        var options = Options();
        options.FeatureColumnName = column;
        options.ImageSize = imageSize;
        options.KeepTrainingState = true;  // GetPreds below reads the validation images the learner decoded

        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train, valid);

        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(valid));
        Assert.Equal(3, metrics.ConfusionMatrix.NumberOfClasses);
        Assert.Equal(12, metrics.ConfusionMatrix.Counts.Sum(row => row.Sum()));
        var torch = model.Learner.GetPreds();  // the validation rows, in their order, through TorchSharp
        Assert.Equal(12, torch.Count);
        _output.WriteLine($"{form}: image size {model.Learner.Data.Pipeline}, validation accuracy {metrics.MicroAccuracy:0.000}");
        Assert.Equal(form == "paths" || form == "resized MLImage" ? 16 : 28, model.Learner.Data.Pipeline.Width);

        string zip = Path.Combine(_temp.Path, "model.zip");
        float[][] scores;
        if (form == "bytes")
        {
            var refusal = Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, train.Schema, zip));
            Assert.Contains("column 'Image'", refusal.Message);
            Assert.Contains("FeatureColumnName to the column of image paths", refusal.Message);
            // ML.NET creates the file before the model refuses: what is left there must not load as a model.
            if (File.Exists(zip)) Assert.ThrowsAny<Exception>(() => ml.Model.Load(zip, out _));
            scores = model.Transform(valid).GetColumn<float[]>("Score").ToArray();  // in process: the only way this model scores
        }
        else
        {
            ml.Model.Save(model, train.Schema, zip);
            var loaded = ml.Model.Load(zip, out _);
            using var release = loaded as IDisposable;
            Assert.All(Parts(loaded), part => Assert.StartsWith("Microsoft.ML", part.GetType().Assembly.GetName().Name));
            scores = loaded.Transform(valid).GetColumn<float[]>("Score").ToArray();
        }
        double maxDifference = scores.Zip(torch.Probabilities, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        _output.WriteLine($"{form}: largest difference from Learner.GetPreds {maxDifference:E2}");
        Assert.True(maxDifference <= Tolerances.Probability, $"{form}: scores differ from the learner's by {maxDifference}");
    }

    private static IEnumerable<ITransformer> Parts(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Parts) : [model];

    [Fact]
    public void EncodedBytes_GoThroughTheDiskCache_WhichASecondFitOnTheSameBytesReuses_ToTheSameModel()
    {
        var ml = new MLContext(seed: 1);
        var messages = Log(ml);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(6)));
        var train = ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(keyed).Transform(keyed);
        var options = Options();
        options.FeatureColumnName = "Image";
        options.Cache = ImageCacheMode.Disk;
        options.CacheFolder = Path.Combine(_temp.Path, "cache");
        options.ValidationFraction = 0.25;
        options.KeepTrainingState = true;  // the two fits' decoded images are compared below

        using var first = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train);
        using var second = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train);

        var lines = messages.Where(m => m.Contains("images (column 'Image', encoded image bytes)")).ToList();
        lines.ForEach(_output.WriteLine);
        Assert.Equal(4, lines.Count);  // training and validation, twice
        Assert.All(lines.Take(2), l => Assert.Contains("decoded in", l));
        Assert.All(lines.Skip(2), l => Assert.Contains("(reused)", l));
        // One file holds the images of both splits (by content), so another split of the same rows reads it too.
        Assert.Single(Directory.GetFiles(options.CacheFolder, "*.pixels"));
        messages.Clear();
        options.Seed = 2;
        using (ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train)) { }
        var resplit = messages.Where(m => m.Contains("images (column 'Image', encoded image bytes)")).ToList();
        Assert.Equal(2, resplit.Count);
        Assert.All(resplit, l => Assert.Contains("(reused)", l));
        Assert.Single(Directory.GetFiles(options.CacheFolder, "*.pixels"));
        var (decoded, reused) = (first.Learner.Data, second.Learner.Data);
        Assert.Equal(decoded.Train.Count, reused.Train.Count);
        for (int i = 0; i < decoded.Train.Count; i++)
        {
            using var a = decoded.Decoded(decoded.Train).Image(i);
            using var b = reused.Decoded(reused.Train).Image(i);
            Assert.True(a.equal(b).all().item<bool>(), $"training image {i} differs between the fresh and the reused cache");
        }
    }

    [Fact]
    public void ADiskCacheThatCannotBeWritten_IsRefusedNamingTheEstimatorsOptions_AndNotAdvisingStreamingAColumn()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(3)));
        var train = ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(keyed).Transform(keyed);
        string blocker = Path.Combine(_temp.Path, "blocker");
        File.WriteAllText(blocker, "a file where the cache folder's parent should be");
        var options = Options();
        options.FeatureColumnName = "Image";
        options.Cache = ImageCacheMode.Disk;
        options.CacheFolder = Path.Combine(blocker, "cache");
        options.ValidationFraction = 0.25;

        var refused = Assert.Throws<ImageCacheUnavailableException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train));

        Assert.Contains("FastAiCnnOptions.CacheFolder", refused.Message);
        Assert.Contains("set FastAiCnnOptions.Cache = ImageCacheMode.Memory", refused.Message);
        Assert.DoesNotContain("ImageDataOptions", refused.Message);
        Assert.DoesNotContain("Stream", refused.Message);
    }

    [Fact]
    public void LoadedImages_InADiskCache_UseAFileForThisFitOnly()
    {
        var ml = new MLContext(seed: 1);
        var messages = Log(ml);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(5)));
        var images = ml.Transforms.LoadImages("Image", "", "ImagePath").Fit(keyed).Transform(keyed);
        var options = Options();
        options.FeatureColumnName = "Image";
        options.Cache = ImageCacheMode.Disk;
        options.CacheFolder = Path.Combine(_temp.Path, "cache");
        options.ValidationFraction = 0.2;

        // Kept with the model (KeepTrainingState), the fit's files last until the model is disposed ...
        options.KeepTrainingState = true;
        var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(images);
        Assert.Contains(messages, m => m.Contains("in a disk cache for this fit only"));
        Assert.Equal(2, Directory.GetFiles(options.CacheFolder).Length);
        model.Dispose();
        Assert.Empty(Directory.GetFiles(options.CacheFolder));

        // ... and by default until Fit ends, when the training images are released.
        options.KeepTrainingState = false;
        using (ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(images))
            Assert.Empty(Directory.GetFiles(options.CacheFolder));
    }

    [Fact]
    public void UnreadableBytes_AreRefusedNamingTheRow_OrLeftOutWithSkip()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(4).Select(r => new BytesRow { Image = File.ReadAllBytes(r.ImagePath), Label = r.Label }).ToList();
        rows[5].Image = Encoding.ASCII.GetBytes("not an image at all");
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows));
        var data = keys.Transform(ml.Data.LoadFromEnumerable(rows));
        var options = Options();
        options.FeatureColumnName = "Image";
        options.ValidationFraction = 0.25;
        var counter = new BatchCounter();
        options.Callbacks = [counter];

        var e = Assert.Throws<InvalidDataException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data));
        Assert.Contains("row 5 of the training data", e.Message);
        Assert.Contains("BadImageHandling.Skip", e.Message);
        Assert.Equal(0, counter.Batches);

        options.OnBadImage = BadImageHandling.Skip;
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data);
        var skipped = Assert.Single(model.Learner.Data.SkippedImages);
        Assert.Equal("row 5 of the training data", skipped.Path);
        Assert.Equal(11, model.Learner.Data.Train.Count + model.Learner.Data.Valid.Count);

        // Skipping cannot leave a set with no image at all.
        var unreadable = rows.Take(3).Select(r => new BytesRow { Image = [1, 2, 3], Label = r.Label }).ToList();
        var none = Assert.Throws<InvalidDataException>(() =>
            ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data, keys.Transform(ml.Data.LoadFromEnumerable(unreadable))));
        Assert.Contains("none of the 3 images in column 'Image' of the validation data can be used", none.Message);
    }

    /// <summary>
    /// An upstream LoadImages that fails on one row: the row is named, or left out with Skip, as for bytes. (The
    /// decoding pass reads pixels through a mapper on one thread, since ML.NET splits a cursor over pixel vectors across
    /// threads on machines with several cores and then calls every row's getters, bad rows included.)
    /// </summary>
    [Fact]
    public void UnreadableLoadedImages_AreRefusedNamingTheRow_OrLeftOutWithSkip()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(4);
        rows[5].ImagePath = Path.Combine(_temp.Path, "broken.png");
        File.WriteAllText(rows[5].ImagePath, "not an image at all");
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(rows));
        var images = ml.Transforms.LoadImages("Image", "", "ImagePath").Fit(keyed).Transform(keyed);
        var options = Options();
        options.FeatureColumnName = "Image";
        options.ValidationFraction = 0.25;

        var e = Assert.Throws<InvalidDataException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(images));
        Assert.Contains("row 5 of the training data", e.Message);
        Assert.Contains("BadImageHandling.Skip", e.Message);

        options.OnBadImage = BadImageHandling.Skip;
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(images);
        Assert.Equal("row 5 of the training data", Assert.Single(model.Learner.Data.SkippedImages).Path);
        Assert.Equal(11, model.Learner.Data.Train.Count + model.Learner.Data.Valid.Count);
    }

    [Fact]
    public void EncodedBytesOfMixedSizes_WithoutImageSize_AreRefusedNamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 6).Select(i => new BytesRow { Image = PhotoFolder.Jpeg(20 + 4 * (i % 2), 20, i % 3, random), Label = Digits[i % 3] }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var options = Options();
        options.FeatureColumnName = "Image";
        options.ImageSize = null;
        options.ValidationFraction = 0.34;

        var e = Assert.Throws<OptionException>(() => ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data));
        Assert.Equal(OptionKey.ImageSize, e.Option);
        Assert.Contains("FastAiCnnOptions.ImageSize", e.Message);
        Assert.Contains("row 0 of the training data is 20×20, row 1 of the training data 24×20", e.Message);
    }

    private static List<string> Log(MLContext ml)
    {
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        return messages;
    }

    private sealed class BytesRow
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }
}
