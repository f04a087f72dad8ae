using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// A dataset folder in fastai's layout copied from the MNIST sample: training/&lt;digit&gt; (10 each), valid/&lt;digit&gt; (2
/// each), testing/&lt;digit&gt; (3 each).
/// </summary>
public sealed class DigitFolderFixture : IDisposable
{
    public DigitFolderFixture()
    {
        TestTorch.UseOneThread();
        Root = Path.Combine(Path.GetTempPath(), "fastai-folder-" + Guid.NewGuid().ToString("N"));
        Training = Copy("training", MnistSample.Take("training", 10));
        Valid = Copy("valid", MnistSample.Take("training", 2, skip: 10));
        Testing = Copy("testing", MnistSample.Take("testing", 3));
    }

    public string Root { get; }

    public List<string> Training { get; }

    public List<string> Valid { get; }

    public List<string> Testing { get; }

    private List<string> Copy(string split, List<(string Path, string Label)> items)
    {
        var copies = new List<string>();
        foreach (var (path, label) in items)
        {
            string target = System.IO.Path.Combine(Root, split, label, System.IO.Path.GetFileName(path));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(path, target);
            copies.Add(target);
        }
        return copies;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>fastai's data factories: splits, labels, the class list, and the errors that name what is wrong.</summary>
public class ImageDataLoadersTests(DigitFolderFixture folder) : IClassFixture<DigitFolderFixture>
{
    private static string LabelFromFolder(string path) => Path.GetFileName(Path.GetDirectoryName(path))!;

    [Fact]
    public void FromFolder_WithValidPct_HoldsOutThatFraction_DisjointFromTraining_WithTheTestFolderKeptApart()
    {
        using var data = ImageDataLoaders.FromFolder(folder.Root, "training", validPct: 0.2, test: "testing", options: new ImageDataOptions { Seed = 3 });

        Assert.Equal(80, data.Train.Count);
        Assert.Equal(20, data.Valid.Count);
        Assert.Empty(data.Train.Paths.Intersect(data.Valid.Paths));
        Assert.True(data.Train.Paths.Concat(data.Valid.Paths).ToHashSet().SetEquals(folder.Training), "train ∪ valid must be exactly the training folder");

        Assert.NotNull(data.Test);
        Assert.True(data.Test!.Paths.ToHashSet().SetEquals(folder.Testing));
        Assert.Empty(data.Test.Paths.Intersect(data.Train.Paths.Concat(data.Valid.Paths)));
        Assert.DoesNotContain(data.Train.Paths.Concat(data.Valid.Paths), p => p.Contains($"{Path.DirectorySeparatorChar}testing{Path.DirectorySeparatorChar}"));
        Assert.DoesNotContain("testing", data.Classes);

        // Labels are the parent folder names (fastai's parent_label), in every split.
        foreach (var split in new[] { data.Train, data.Valid, data.Test })
            for (int i = 0; i < split.Count; i++) Assert.Equal(LabelFromFolder(split.Paths[i]), split.LabelOf(i));
        Assert.True(data.Test.IsLabeled);
    }

    [Fact]
    public void FromFolder_WithValidPct_TheSameSeedGivesTheSameSplit_AndAnotherSeedAnotherOne()
    {
        HashSet<string> ValidSet(int seed)
        {
            using var data = ImageDataLoaders.FromFolder(folder.Root, "training", validPct: 0.2, options: new ImageDataOptions { Seed = seed });
            Assert.Equal(seed, data.Seed);
            return data.Valid.Paths.ToHashSet();
        }

        var first = ValidSet(3);
        Assert.True(first.SetEquals(ValidSet(3)), "the same seed must give the same validation images");
        Assert.False(first.SetEquals(ValidSet(4)), "another seed must give another validation set");
    }

    [Fact]
    public void FromFolder_WithAValidFolder_ValidatesOnThatFolder()
    {
        using var data = ImageDataLoaders.FromFolder(folder.Root, "training", "valid");

        Assert.True(data.Train.Paths.ToHashSet().SetEquals(folder.Training));
        Assert.True(data.Valid.Paths.ToHashSet().SetEquals(folder.Valid));
        Assert.Null(data.Test);
        Assert.Equal(MnistSample.Digits, data.Classes);
        for (int i = 0; i < data.Valid.Count; i++) Assert.Equal(LabelFromFolder(data.Valid.Paths[i]), data.Valid.LabelOf(i));
    }

    [Fact]
    public void FromFolder_SortsTheClassesOrdinally_AndIndexesLabelsByThatOrder()
    {
        using var temp = new TemporaryFolder();
        foreach (var (label, source) in new[] { ("b", 0), ("a", 1), ("B", 2) })
        {
            var files = MnistSample.Take("training", 2).Where(t => t.Label == source.ToString()).ToList();
            foreach (var split in new[] { "train", "valid" })
            {
                Directory.CreateDirectory(Path.Combine(temp.Path, split, label));
                foreach (var (path, _) in files) File.Copy(path, Path.Combine(temp.Path, split, label, Path.GetFileName(path)));
            }
        }

        using var data = ImageDataLoaders.FromFolder(temp.Path);

        Assert.Equal(new[] { "B", "a", "b" }, data.Classes);
        for (int i = 0; i < data.Train.Count; i++) Assert.Equal(data.Classes[data.Train.LabelIndices[i]], LabelFromFolder(data.Train.Paths[i]));
    }

    [Fact]
    public void FromFolder_SkipsNonImageFiles_AndCountsThem()
    {
        using var temp = new TemporaryFolder();
        WriteTwoClassFolders(temp.Path);
        File.WriteAllText(Path.Combine(temp.Path, "train", "0", "readme.txt"), "not an image");
        File.WriteAllText(Path.Combine(temp.Path, "valid", "1", "labels.csv"), "a,b");

        using var data = ImageDataLoaders.FromFolder(temp.Path);

        Assert.Equal(2, data.IgnoredNonImageFiles);
        Assert.All(data.Train.Paths.Concat(data.Valid.Paths), p => Assert.Equal(".png", Path.GetExtension(p)));
        Assert.Equal(4, data.Train.Count);
    }

    [Fact]
    public void FromFolder_AnEmptyClassFolder_IsAnErrorNamingIt()
    {
        using var temp = new TemporaryFolder();
        WriteTwoClassFolders(temp.Path);
        string empty = Path.Combine(temp.Path, "train", "7");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no images here");

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(temp.Path));
        Assert.Contains(empty, e.Message);
    }

    [Fact]
    public void FromFolder_MissingFolders_AreErrorsNamingThePath()
    {
        string missingRoot = Path.Combine(folder.Root, "no-such-dataset");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ImageDataLoaders.FromFolder(missingRoot));
        Assert.Contains(missingRoot, e.Message);

        e = Assert.Throws<DirectoryNotFoundException>(() => ImageDataLoaders.FromFolder(folder.Root, "train"));
        Assert.Contains(Path.Combine(folder.Root, "train"), e.Message);

        e = Assert.Throws<DirectoryNotFoundException>(() => ImageDataLoaders.FromFolder(folder.Root, "training", "validation"));
        Assert.Contains(Path.Combine(folder.Root, "validation"), e.Message);

        e = Assert.Throws<DirectoryNotFoundException>(() => ImageDataLoaders.FromFolder(folder.Root, "training", "valid", test: "test"));
        Assert.Contains(Path.Combine(folder.Root, "test"), e.Message);
    }

    [Fact]
    public void FromFolder_ALabelledTestFolderWithAClassUnseenInTraining_IsAnErrorNamingTheClass()
    {
        using var temp = new TemporaryFolder();
        WriteTwoClassFolders(temp.Path);
        string stranger = Path.Combine(temp.Path, "test", "seven");
        Directory.CreateDirectory(stranger);
        File.Copy(MnistSample.Take("testing", 1)[7].Path, Path.Combine(stranger, "x.png"));

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(temp.Path, test: "test"));
        Assert.Contains("'seven'", e.Message);
        Assert.Contains(Path.Combine(stranger, "x.png"), e.Message);
    }

    [Fact]
    public void ACorruptImage_FailsByDefaultNamingTheFile_AndWithSkipIsLeftOutAndListed_WhileTrainingStillWorks()
    {
        using var temp = new TemporaryFolder();
        WriteTwoClassFolders(temp.Path, perClass: 8);
        string corrupt = Path.Combine(temp.Path, "train", "1", "corrupt.png");
        var bytes = new byte[600];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(corrupt, bytes);

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(temp.Path));
        Assert.True(e.Message.Contains(corrupt), e.Message);

        using var data = ImageDataLoaders.FromFolder(temp.Path,
            options: new ImageDataOptions { OnBadImage = BadImageHandling.Skip, BatchSize = 4, Seed = 1 });
        var skipped = Assert.Single(data.SkippedImages);
        Assert.Equal(corrupt, skipped.Path);
        Assert.False(string.IsNullOrWhiteSpace(skipped.Reason));
        Assert.DoesNotContain(corrupt, data.Train.Paths);
        Assert.Equal(16, data.Train.Count);

        // Every decoded image still sits beside its own path and label: its pixels are its file's.
        var decoded = data.Decoded(data.Train);
        Assert.Equal(data.Train.Count, decoded.Count);
        for (int i = 0; i < data.Train.Count; i++)
        {
            using var bitmap = SKBitmap.Decode(data.Train.Paths[i]);
            var expected = Enumerable.Range(0, 28 * 28).Select(p => bitmap.GetPixel(p % 28, p / 28).Red).ToArray();
            Assert.Equal(expected, decoded.Image(i)[0].contiguous().data<byte>().ToArray());
            Assert.Equal(data.Train.LabelIndices[i], (int)decoded.Labels[i].item<long>());
        }

        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 1,
        });
        learner.Fit(1, 1e-3);
        var epoch = Assert.Single(learner.Recorder.Epochs);
        Assert.True(double.IsFinite(epoch.TrainLoss) && double.IsFinite(epoch.ValidLoss));
        Assert.Equal(16 / 4, learner.Recorder.Losses.Count);
    }

    [Fact]
    public void FromCsv_ReadsQuotedFileNames_HeaderNames_AndAValidColumn()
    {
        using var temp = new TemporaryFolder();
        var sources = MnistSample.Take("training", 1).Take(4).ToList();
        string[] names = { "a,b.png", "plain.png", "with \"quote\".png", "d.png" };
        Directory.CreateDirectory(Path.Combine(temp.Path, "images"));
        for (int i = 0; i < 4; i++) File.Copy(sources[i].Path, Path.Combine(temp.Path, "images", names[i]));
        File.WriteAllText(Path.Combine(temp.Path, "labels.csv"),
            "name,digit,is_valid\n" +
            "\"a,b.png\",zero,false\n" +
            "plain.png,one,0\n" +
            "\"with \"\"quote\"\".png\",zero,true\n" +
            "d.png,one,1\n");

        using var data = ImageDataLoaders.FromCsv(temp.Path, fileNameColumn: "name", labelColumn: "digit", validColumn: "is_valid", folder: "images");

        Assert.Equal(new[] { "one", "zero" }, data.Classes);
        Assert.Equal(new[] { "a,b.png", "plain.png" }, data.Train.Paths.Select(Path.GetFileName));
        Assert.Equal(new[] { "zero", "one" }, Enumerable.Range(0, 2).Select(data.Train.LabelOf));
        Assert.Equal(new[] { "with \"quote\".png", "d.png" }, data.Valid.Paths.Select(Path.GetFileName));
        Assert.Equal(new[] { "zero", "one" }, Enumerable.Range(0, 2).Select(data.Valid.LabelOf));
    }

    [Fact]
    public void FromCsv_ReadsColumnsByIndex_WithoutAHeader_AndSplitsRandomlyWithoutAValidColumn()
    {
        using var temp = new TemporaryFolder();
        var items = MnistSample.Take("training", 2).Where(t => t.Label is "3" or "8").ToList();
        // Columns: label, then file name (fastai's fn_col/label_col by position), with the suffix left off.
        File.WriteAllLines(Path.Combine(temp.Path, "list.csv"), items.Select(t => $"digit{t.Label},{FileName(t)}"));
        Directory.CreateDirectory(Path.Combine(temp.Path, "img"));
        foreach (var t in items) File.Copy(t.Path, Path.Combine(temp.Path, "img", FileName(t) + ".png"));

        using var data = ImageDataLoaders.FromCsv(temp.Path, "list.csv", fileNameColumn: "1", labelColumn: "0", validPct: 0.5, folder: "img", suffix: ".png",
            hasHeader: false, options: new ImageDataOptions { Seed = 2 });

        Assert.Equal(new[] { "digit3", "digit8" }, data.Classes);
        Assert.Equal(2, data.Train.Count);
        Assert.Equal(2, data.Valid.Count);
        var expected = items.ToDictionary(t => FileName(t) + ".png", t => "digit" + t.Label);
        foreach (var split in new[] { data.Train, data.Valid })
            for (int i = 0; i < split.Count; i++) Assert.Equal(expected[Path.GetFileName(split.Paths[i])], split.LabelOf(i));
    }

    [Fact]
    public void FromCsv_Errors_NameTheColumn_TheLine_AndTheMissingFile()
    {
        using var temp = new TemporaryFolder();
        var source = MnistSample.Take("training", 1)[0].Path;
        File.Copy(source, Path.Combine(temp.Path, "a.png"));
        File.Copy(source, Path.Combine(temp.Path, "b.png"));
        string csv = Path.Combine(temp.Path, "labels.csv");

        File.WriteAllText(csv, "file,label\na.png,x\nb.png,y\n");
        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(temp.Path, fileNameColumn: "file", labelColumn: "species"));
        Assert.Contains("'species'", e.Message);
        Assert.Contains(csv, e.Message);

        File.WriteAllText(csv, "file,label\na.png,x\nb.png,\n");
        e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromCsv(temp.Path, fileNameColumn: "file", labelColumn: "label"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("empty label", e.Message);

        File.WriteAllText(csv, "file,label\na.png,x\nmissing.png,y\nb.png,y\n");
        var missing = Assert.Throws<FileNotFoundException>(() => ImageDataLoaders.FromCsv(temp.Path, fileNameColumn: "file", labelColumn: "label"));
        Assert.Contains("line 3", missing.Message);
        Assert.Contains(Path.Combine(temp.Path, "missing.png"), missing.Message);
    }

    [Fact]
    public void FromLists_SplitsTheGivenImages_KeepingEachImageWithItsLabel()
    {
        var items = MnistSample.Take("training", 5);
        var labelOf = items.ToDictionary(t => t.Path, t => t.Label);

        using var data = ImageDataLoaders.FromLists(items.Select(t => t.Path), items.Select(t => t.Label), validPct: 0.2, options: new ImageDataOptions { Seed = 9 });

        Assert.Equal(40, data.Train.Count);
        Assert.Equal(10, data.Valid.Count);
        Assert.Empty(data.Train.Paths.Intersect(data.Valid.Paths));
        Assert.True(data.Train.Paths.Concat(data.Valid.Paths).ToHashSet().SetEquals(labelOf.Keys));
        foreach (var split in new[] { data.Train, data.Valid })
            for (int i = 0; i < split.Count; i++) Assert.Equal(labelOf[split.Paths[i]], split.LabelOf(i));
        Assert.Equal(MnistSample.Digits, data.Classes);
    }

    /// <summary>The sample's file names repeat across digits (training/3/0.png, training/8/0.png): prefix the digit.</summary>
    private static string FileName((string Path, string Label) item) => $"d{item.Label}-{Path.GetFileNameWithoutExtension(item.Path)}";

    /// <summary>train/0, train/1, valid/0, valid/1 with <paramref name="perClass"/> (train) and 2 (valid) MNIST digits each.</summary>
    private static void WriteTwoClassFolders(string root, int perClass = 2)
    {
        var train = MnistSample.Take("training", perClass).Where(t => t.Label is "0" or "1");
        var valid = MnistSample.Take("training", 2, skip: perClass).Where(t => t.Label is "0" or "1");
        foreach (var (split, items) in new[] { ("train", train), ("valid", valid) })
            foreach (var (path, label) in items)
            {
                Directory.CreateDirectory(Path.Combine(root, split, label));
                File.Copy(path, Path.Combine(root, split, label, Path.GetFileName(path)));
            }
    }
}
