using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Hardening;
using MLNet.FastAi.Tests.Interpretation.Plots;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// Links in image folders: a folder is searched once and a file listed once, whatever the links, so that no image is
/// counted again and again, under two labels, or in training and validation at once. A link to a folder or a file
/// outside the dataset is an ordinary part of it.
/// </summary>
public sealed class FolderLinkTests : IDisposable
{
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static ImageDataOptions Options => new() { ImageSize = 8, BatchSize = 2, Seed = 1, Log = _ => { } };

    /// <summary>Two classes of three 8×8 images each under ROOT/train (and ROOT/valid when asked).</summary>
    private string Dataset(string name, bool valid = true)
    {
        string root = Path.Combine(_temp.Path, name);
        foreach (var split in valid ? new[] { "train", "valid" } : new[] { "train" })
            foreach (var label in new[] { "3", "7" })
            {
                Directory.CreateDirectory(Path.Combine(root, split, label));
                for (int i = 0; i < 3; i++)
                    File.WriteAllBytes(Path.Combine(root, split, label, $"{i}.png"),
                        HandMadeImages.RgbPng(8, 8, (x, y) => ((byte)(label == "3" ? 200 : 20), (byte)(30 * i), (byte)(x * y))));
            }
        return root;
    }

    [Fact]
    public void ALinkBackToAFolderThatHoldsIt_IsRefusedByName_EverywhereFoldersAreSearched()
    {
        string root = Dataset("loop");
        string up = Path.Combine(root, "train", "7", "up");
        Directory.CreateSymbolicLink(up, "..");

        var fromFolder = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(root, options: Options));
        Assert.Contains($"'{up}", fromFolder.Message);
        Assert.Contains("link back", fromFolder.Message);
        var catalog = Assert.Throws<InvalidDataException>(() => new MLContext().Data.LoadFromImageFolder(Path.Combine(root, "train")));
        Assert.Contains($"'{up}", catalog.Message);
    }

    [Fact]
    public void TwoWaysIntoOneFolder_AreRefused_ItsImagesWouldCarryTwoLabels()
    {
        string root = Dataset("twice");
        string alias = Path.Combine(root, "train", "7", "threes");
        Directory.CreateSymbolicLink(alias, Path.Combine(root, "train", "3"));

        var error = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(root, options: Options));
        Assert.Contains($"'{alias}'", error.Message);
        Assert.Contains("listed twice", error.Message);
    }

    [Fact]
    public void AFileInTrainingAndValidation_IsRefused_NamingBothListings()
    {
        string root = Dataset("shared");
        string training = Path.Combine(root, "train", "3", "0.png");
        string link = Path.Combine(root, "valid", "3", "same.png");
        File.CreateSymbolicLink(link, training);

        var error = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(root, options: Options));
        Assert.Contains($"'{training}' (training)", error.Message);
        Assert.Contains($"'{link}' (validation)", error.Message);

        var lists = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromSplits(
            [(training, "3"), (Path.Combine(root, "train", "7", "0.png"), "7"), (link, "7")], [(Path.Combine(root, "valid", "3", "0.png"), "3")], options: Options));
        Assert.Contains("two labels", lists.Message);
        Assert.Contains($"'{link}' ('7')", lists.Message);

        // Oversampling: one file repeated in one role with one label is kept.
        using var oversampled = ImageDataLoaders.FromSplits([(training, "3"), (training, "3"), (Path.Combine(root, "train", "7", "0.png"), "7")],
            [(Path.Combine(root, "valid", "3", "0.png"), "3")], options: Options);
        Assert.Equal(3, oversampled.Train.Count);
    }

    [Fact]
    public void LinksToFoldersAndFilesOutsideTheDataset_AreFollowed()
    {
        string root = Dataset("outside", valid: false);
        string elsewhere = Dataset("elsewhere", valid: false);
        Directory.CreateSymbolicLink(Path.Combine(root, "train", "3", "more"), Path.Combine(elsewhere, "train", "3"));
        File.CreateSymbolicLink(Path.Combine(root, "train", "7", "linked.png"), Path.Combine(elsewhere, "train", "7", "0.png"));

        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: Options);

        Assert.Equal(3 + 3 + 3 + 1, data.Train.Count + data.Valid.Count);
    }
}
