using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary><c>mlContext.Data.LoadFromImageFolder</c> and <c>LoadFromImageCsv</c>: files in, an IDataView of paths and labels out, nothing decoded.</summary>
public sealed class ImageFolderCatalogTests : IDisposable
{
    private readonly TemporaryFolder _temp = new();
    private readonly MLContext _ml = new(seed: 1);

    public void Dispose() => _temp.Dispose();

    /// <summary>Copies the first <paramref name="count"/> MNIST images of <paramref name="digit"/> to <c>root/relativeFolder</c>.</summary>
    private string[] Copy(string digit, int count, string relativeFolder)
    {
        string folder = Path.Combine(_temp.Path, relativeFolder);
        Directory.CreateDirectory(folder);
        return MnistSample.Take("training", count).Where(t => t.Label == digit)
            .Select(t =>
            {
                string target = Path.Combine(folder, $"{digit}-{Path.GetFileName(t.Path)}");
                File.Copy(t.Path, target);
                return target;
            }).ToArray();
    }

    [Fact]
    public void LoadFromImageFolder_LabelsEveryImageWithItsClassFolder_AndIgnoresOtherFiles_AsTheFactoriesDo()
    {
        var messages = new List<string>();
        _ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var threes = Copy("3", 3, Path.Combine("train", "three"));
        var fives = Copy("5", 2, Path.Combine("train", "five"));
        var nested = Copy("5", 1, Path.Combine("train", "five", "more"));
        File.WriteAllText(Path.Combine(_temp.Path, "train", "three", "notes.txt"), "not an image");
        File.WriteAllText(Path.Combine(_temp.Path, "train", "three", ".hidden.png"), "hidden files are skipped");
        Copy("3", 1, Path.Combine("train", ".cache"));

        var view = _ml.Data.LoadFromImageFolder(Path.Combine(_temp.Path, "train"));

        var paths = view.GetColumn<string>("ImagePath").ToArray();
        var labels = view.GetColumn<string>("Label").ToArray();
        Assert.Equal(fives.Concat(nested).Concat(threes), paths);  // class folders in name order, files sorted, subfolders after files
        Assert.Equal(new[] { "five", "five", "five", "three", "three", "three" }, labels);
        Assert.Contains(messages, m => m.Contains("6 images") && m.Contains("1 file(s) without an image extension ignored"));

        // The same items as the fastai factory finds in that folder.
        // Seeded: an unseeded half of six images left one class out of training one time in ten, and was refused.
        using var data = ImageDataLoaders.FromFolder(_temp.Path, train: "train", validPct: 0.5, options: new ImageDataOptions { ImageSize = 8, Seed = 1, Log = _ => { } });
        Assert.Equal(paths.Order(), data.Train.Paths.Concat(data.Valid.Paths).Order());
        Assert.Equal(1, data.IgnoredNonImageFiles);

        var renamed = _ml.Data.LoadFromImageFolder(Path.Combine(_temp.Path, "train"), imageColumnName: "File", labelColumnName: "Class");
        Assert.Equal(new[] { "File", "Class" }, renamed.Schema.Select(c => c.Name));
        Assert.Throws<ArgumentException>(() => _ml.Data.LoadFromImageFolder(_temp.Path, imageColumnName: "Same", labelColumnName: "Same"));
    }

    [Fact]
    public void LoadFromImageFolder_RefusesAnEmptyClassFolderOrAMissingFolder_WithTheFactoriesMessages()
    {
        Copy("3", 2, Path.Combine("train", "three"));
        Directory.CreateDirectory(Path.Combine(_temp.Path, "train", "seven"));

        var loader = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadFromImageFolder(Path.Combine(_temp.Path, "train")));
        var factory = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_temp.Path, train: "train", validPct: 0.5));
        Assert.Equal(factory.Message, loader.Message);
        Assert.Contains(Path.Combine(_temp.Path, "train", "seven"), loader.Message);

        var missing = Assert.Throws<DirectoryNotFoundException>(() => _ml.Data.LoadFromImageFolder(Path.Combine(_temp.Path, "nowhere")));
        Assert.Contains("nowhere", missing.Message);
    }

    [Fact]
    public void LoadFromImageCsv_ReadsNamesAndLabels_RelativeToTheCsvsFolder_AndNamesTheLineAtFault()
    {
        var threes = Copy("3", 2, "images");
        var fives = Copy("5", 1, Path.Combine("images", "sub"));
        string csv = Path.Combine(_temp.Path, "labels.csv");
        string Name(string path) => Path.GetRelativePath(_temp.Path, path);
        File.WriteAllText(csv, $"name,label\n{Name(threes[0])},three\n\"{Name(fives[0])}\",five\n{Name(threes[1])},three\n");

        var view = _ml.Data.LoadFromImageCsv(csv, fileNameColumn: "name", labelColumn: "label");

        Assert.Equal(new[] { threes[0], fives[0], threes[1] }, view.GetColumn<string>("ImagePath"));
        Assert.Equal(new[] { "three", "five", "three" }, view.GetColumn<string>("Label"));

        // Without a header, by column index, with a suffix and a folder of their own.
        string bare = Path.Combine(_temp.Path, "bare.csv");
        File.WriteAllText(bare, $"three,{Path.GetFileNameWithoutExtension(threes[0])}\n");
        var indexed = _ml.Data.LoadFromImageCsv(bare, imageFolder: Path.Combine(_temp.Path, "images"), fileNameColumn: "1", labelColumn: "0", hasHeader: false, suffix: ".png");
        Assert.Equal(new[] { threes[0] }, indexed.GetColumn<string>("ImagePath"));

        File.WriteAllText(csv, $"name,label\n{Name(threes[0])},three\nimages/missing.png,five\n");
        var missing = Assert.Throws<FileNotFoundException>(() => _ml.Data.LoadFromImageCsv(csv, fileNameColumn: "name", labelColumn: "label"));
        Assert.Contains("line 3", missing.Message);
        File.WriteAllText(csv, $"name,label\n{Name(threes[0])},three\n{Name(threes[0])},five\n");
        var twice = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadFromImageCsv(csv, fileNameColumn: "name", labelColumn: "label"));
        Assert.Contains("line 3", twice.Message);
        Assert.Contains("already listed on line 2", twice.Message);
        var noColumn = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadFromImageCsv(csv, fileNameColumn: "file", labelColumn: "label"));
        Assert.Contains("no file name column 'file'", noColumn.Message);
    }
}
