using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Label tables and class lists that cannot make a classifier: duplicate and short CSV rows, unclosed quotes, no class
/// or one class, and validation labels the training set lacks. Each is refused with a message naming the file, line,
/// image or class; the one the estimator accepts (a key class with no training image) is logged as a warning.
/// </summary>
public sealed class BadTablesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-bad-tables-" + Guid.NewGuid().ToString("N")[..8]);

    public BadTablesTests()
    {
        TestTorch.UseOneThread();
        Directory.CreateDirectory(_root);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void FromCsv_ADuplicateRow_IsRefusedNamingTheFileTheLineAndTheImage()
    {
        CopyDigitsAs("a.png", "b.png");
        string csv = Csv("file,label\na.png,x\nb.png,y\na.png,x\n");

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(_root));

        Assert.Contains(csv, e.Message);
        Assert.Contains("line 4", e.Message);
        Assert.Contains("'a.png' is listed twice", e.Message);
    }

    [Fact]
    public void FromCsv_ARowWithMissingColumns_IsRefusedNamingTheLine()
    {
        CopyDigitsAs("a.png", "b.png");
        string csv = Csv("file,label,is_valid\na.png,x,false\nb.png\n");

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(_root, validColumn: "is_valid"));

        Assert.Contains(csv, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("1 columns", e.Message);
    }

    [Fact]
    public void FromCsv_AnUnclosedQuote_IsRefusedNamingTheFile()
    {
        CopyDigitsAs("a.png", "b.png");
        string csv = Csv("file,label\n\"a.png,x\nb.png,y\n");

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(_root));

        Assert.Contains(csv, e.Message);
        Assert.Contains("never closed", e.Message);
    }

    [Fact]
    public void NoClass_IsRefused_ByEveryFactory()
    {
        Csv("file,label\n");
        Assert.Contains("no data rows", Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(_root)).Message);

        var one = MnistSample.Take("training", 1).Take(2).ToList();
        Assert.Contains("training set is empty", Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromSplits(Array.Empty<(string, string)>(), one)).Message);
        Assert.Contains("validation set is empty", Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromSplits(one, Array.Empty<(string, string)>())).Message);

        Directory.CreateDirectory(Path.Combine(_root, "train"));
        Directory.CreateDirectory(Path.Combine(_root, "valid"));
        Assert.Contains("no class subfolders", Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root)).Message);
    }

    [Fact]
    public void OneClass_IsRefusedNamingIt_ByEveryFactoryAndByTheEstimator()
    {
        var sevens = MnistSample.Take("training", 4).Where(t => t.Label == "7").ToList();
        foreach (var (split, items) in new[] { ("train", sevens.Take(3)), ("valid", sevens.Skip(3)) })
            foreach (var (path, _) in items) Copy(path, Path.Combine(split, "seven", Path.GetFileName(path)));

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root));
        Assert.Contains("1 class ('seven')", e.Message);
        Assert.Contains("at least two", e.Message);

        e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromLists(sevens.Select(t => t.Path), sevens.Select(t => t.Label), 0.25));
        Assert.Contains("1 class ('7')", e.Message);

        var context = new MLContext(seed: 1);
        var rows = context.Data.LoadFromEnumerable(sevens.Select(t => new Row { ImagePath = t.Path, Label = t.Label }));
        var keyed = context.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => context.MulticlassClassification.Trainers.FastAiCnn(TinyEstimatorOptions()).Fit(keyed));
        Assert.Contains("'Label' has 1 class(es)", refused.Message);
    }

    [Fact]
    public void AValidationLabelTheTrainingSetLacks_IsRefusedNamingTheImageAndTheLabel()
    {
        var items = MnistSample.Take("training", 2).Where(t => t.Label is "1" or "2" or "3").ToList();
        foreach (var (path, label) in items.Where(t => t.Label != "3")) Copy(path, Path.Combine("train", label, Path.GetFileName(path)));
        foreach (var (path, label) in items) Copy(path, Path.Combine("valid", label, Path.GetFileName(path)));
        string stranger = Path.Combine(_root, "valid", "3", Path.GetFileName(items.First(t => t.Label == "3").Path));

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root));

        Assert.Contains($"'{stranger}'", e.Message);
        Assert.Contains("'3', a class the training set does not have", e.Message);

        var others = MnistSample.Take("training", 1, skip: 2).Where(t => t.Label is "1" or "2" or "3").ToList();
        e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromSplits(items.Where(t => t.Label != "3"), others));
        Assert.Contains("'3', a class the training set does not have", e.Message);
    }

    /// <summary>
    /// The estimator's classes are the label key's values, which may include a class with no training image (the
    /// key was fitted on more data than the training rows). ML.NET's own trainers accept that; so does this one,
    /// and says so in the ML.NET log, naming the class.
    /// </summary>
    [Fact]
    public void Estimator_AKeyClassWithoutTrainingImages_TrainsAndLogsAWarningNamingIt_InTheUsersMLContextLog()
    {
        var context = new MLContext(seed: 1);
        var messages = new List<string>();
        context.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var train = MnistSample.Take("training", 2).Where(t => t.Label is "1" or "2").Select(t => new Row { ImagePath = t.Path, Label = t.Label }).ToList();
        var valid = MnistSample.Take("training", 1, skip: 2).Where(t => t.Label is "1" or "2" or "3").Select(t => new Row { ImagePath = t.Path, Label = t.Label }).ToList();
        var keys = context.Transforms.Conversion.MapValueToKey("Label").Fit(context.Data.LoadFromEnumerable(train.Concat(valid)));
        var options = TinyEstimatorOptions();
        options.ValidationSet = keys.Transform(context.Data.LoadFromEnumerable(valid));

        using var model = context.MulticlassClassification.Trainers.FastAiCnn(options).Fit(keys.Transform(context.Data.LoadFromEnumerable(train)));

        Assert.Equal(new[] { "1", "2", "3" }, model.Classes);
        Assert.Contains(messages, m => m.Contains("Kind=Warning] FastAiCnn: no training image is labelled '3'"));
        // The user's context, not a private one, received the training log: the catalog found its environment.
        Assert.Contains(messages, m => m.Contains("epoch 0: train_loss"));
        Assert.NotNull(FastAiCatalog.EnvironmentOf(context.MulticlassClassification.Trainers));
    }

    private static FastAiCnnOptions TinyEstimatorOptions() => new()
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, Schedule = TrainingSchedule.Constant, Epochs = 1,
        ImageSize = 16, BatchSize = 2, Device = ComputeDevice.Cpu, Seed = 1,
    };

    private string Csv(string text)
    {
        string path = Path.Combine(_root, "labels.csv");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Copies the first MNIST digits into the folder under the given names.</summary>
    private void CopyDigitsAs(params string[] names)
    {
        var digits = MnistSample.Take("training", 1);
        for (int i = 0; i < names.Length; i++) Copy(digits[i].Path, names[i]);
    }

    private void Copy(string source, string target)
    {
        string path = Path.Combine(_root, target);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(source, path, overwrite: true);
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
