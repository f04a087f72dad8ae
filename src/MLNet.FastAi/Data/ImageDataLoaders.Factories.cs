using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data;

public sealed partial class ImageDataLoaders
{
    /// <summary>
    /// Images in one folder per class (fastai's <c>ImageDataLoaders.from_folder</c>). The validation set is the
    /// <paramref name="valid"/> folder, or a seeded random <paramref name="validPct"/> of the <paramref name="train"/>
    /// folder. A <paramref name="test"/> folder is kept apart — never mixed into training or validation — and may hold
    /// class subfolders (labelled) or plain files (unlabelled).
    /// </summary>
    /// <param name="path">The dataset folder.</param>
    /// <param name="train">Training subfolder name (fastai <c>train='train'</c>; MNIST's is "training").</param>
    /// <param name="valid">Validation subfolder name; ignored when <paramref name="validPct"/> is set.</param>
    /// <param name="validPct">Fraction of the training folder to hold out for validation.</param>
    /// <param name="test">Test subfolder name (MNIST's is "testing"), or null.</param>
    /// <param name="options">Batch size, image size, seed, augmentation, normalization, bad-image handling.</param>
    /// <exception cref="DirectoryNotFoundException">A named folder is missing.</exception>
    /// <exception cref="InvalidDataException">An empty class folder, an unknown class, or an unreadable image.</exception>
    public static ImageDataLoaders FromFolder(string path, string train = "train", string? valid = "valid", double? validPct = null,
        string? test = null, ImageDataOptions? options = null)
    {
        string root = Path.GetFullPath(path);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"The dataset folder '{root}' does not exist.");
        int ignored = 0;
        var trainItems = ImageFiles.ByClassFolder(Path.Combine(root, train), "training", ref ignored);
        List<(string, string)> validItems;
        if (validPct is { } pct)
        {
            (trainItems, validItems) = SplitRandomly(trainItems, pct, options?.Seed, out int seed);
            options = (options ?? new ImageDataOptions()) with { Seed = seed };
        }
        else
        {
            if (valid is null)
                throw new ArgumentException("Give either a validation folder name (valid) or a fraction to hold out (validPct).", nameof(valid));
            string validFolder = Path.Combine(root, valid);
            if (!Directory.Exists(validFolder))
                throw new DirectoryNotFoundException($"The validation folder '{validFolder}' does not exist; pass {OptionKey.ValidationFraction} (e.g. 0.2) to hold out part of '{Path.Combine(root, train)}' instead.");
            validItems = ImageFiles.ByClassFolder(validFolder, "validation", ref ignored);
        }
        List<(string, string?)>? testItems = null;
        if (test is not null) testItems = TestFolder(Path.Combine(root, test), ref ignored);
        return FromItems(trainItems, validItems, testItems, options, ignored);
    }

    /// <summary>
    /// Images listed in a CSV file (fastai's <c>ImageDataLoaders.from_csv</c>): one column of file names (relative to
    /// <paramref name="path"/>/<paramref name="folder"/>), one of labels, optionally one marking validation rows.
    /// </summary>
    /// <param name="path">The dataset folder.</param>
    /// <param name="csvFileName">CSV file inside <paramref name="path"/> (fastai <c>labels.csv</c>).</param>
    /// <param name="fileNameColumn">Column holding file names: a header name or a zero-based index ("0").</param>
    /// <param name="labelColumn">Column holding labels: a header name or a zero-based index ("1").</param>
    /// <param name="validColumn">Optional column of true/false (or 1/0) marking validation rows; else a random split.</param>
    /// <param name="validPct">Fraction held out when there is no <paramref name="validColumn"/> (fastai 0.2).</param>
    /// <param name="folder">Subfolder holding the images, or null for <paramref name="path"/> itself.</param>
    /// <param name="suffix">Appended to each file name (fastai <c>suff</c>), e.g. ".png".</param>
    /// <param name="hasHeader">Whether the first row names the columns.</param>
    /// <param name="options">Batch size, image size, seed, augmentation, normalization, bad-image handling.</param>
    /// <exception cref="InvalidDataException">A missing column, an empty cell, or a row naming a missing file (with its line).</exception>
    public static ImageDataLoaders FromCsv(string path, string csvFileName = "labels.csv", string fileNameColumn = "0", string labelColumn = "1",
        string? validColumn = null, double validPct = 0.2, string? folder = null, string suffix = "", bool hasHeader = true, ImageDataOptions? options = null)
    {
        string root = Path.GetFullPath(path);
        string csv = Path.Combine(root, csvFileName);
        string imageFolder = folder is null ? root : Path.Combine(root, folder);
        var train = new List<(string, string)>();
        var valid = new List<(string, string)>();
        foreach (var row in LabelledCsv.Read(csv, imageFolder, fileNameColumn, labelColumn, hasHeader, suffix, validColumn))
        {
            bool isValid = row.ValidCell is { } cell && ParseBool(cell, csv, row.Line);
            (isValid ? valid : train).Add((row.Path, row.Label));
        }
        if (validColumn is null)
        {
            (train, valid) = SplitRandomly(train, validPct, options?.Seed, out int seed);
            options = (options ?? new ImageDataOptions()) with { Seed = seed };
        }
        return FromItems(train, valid, null, options);
    }

    /// <summary>
    /// Images and labels given as lists (fastai's <c>ImageDataLoaders.from_lists</c>), split randomly.
    /// </summary>
    /// <param name="imagePaths">Image files (absolute, or relative to the working directory).</param>
    /// <param name="labels">One label per image.</param>
    /// <param name="validPct">Fraction held out for validation (fastai 0.2).</param>
    /// <param name="options">Batch size, image size, seed, augmentation, normalization, bad-image handling.</param>
    public static ImageDataLoaders FromLists(IEnumerable<string> imagePaths, IEnumerable<string> labels, double validPct = 0.2, ImageDataOptions? options = null)
    {
        var paths = imagePaths.Select(Path.GetFullPath).ToList();
        var labelList = labels.ToList();
        if (paths.Count != labelList.Count) throw new ArgumentException($"{paths.Count} images but {labelList.Count} labels.", nameof(labels));
        var missing = paths.FirstOrDefault(p => !File.Exists(p));
        if (missing is not null) throw new FileNotFoundException($"Image '{missing}' does not exist.", missing);
        var (train, valid) = SplitRandomly(paths.Zip(labelList).ToList(), validPct, options?.Seed, out int seed);
        return FromItems(train, valid, null, (options ?? new ImageDataOptions()) with { Seed = seed });
    }

    /// <summary>
    /// Images with explicit training and validation (and optional test) lists — the form the ML.NET estimator uses.
    /// </summary>
    /// <param name="train">Training images and labels.</param>
    /// <param name="valid">Validation images and labels.</param>
    /// <param name="test">Optional test images, labels optional.</param>
    /// <param name="options">Batch size, image size, seed, augmentation, normalization, bad-image handling.</param>
    /// <param name="classes">The class order (e.g. an ML.NET label key's values); null sorts the training labels.</param>
    public static ImageDataLoaders FromSplits(IEnumerable<(string ImagePath, string Label)> train, IEnumerable<(string ImagePath, string Label)> valid,
        IEnumerable<(string ImagePath, string? Label)>? test = null, ImageDataOptions? options = null, IReadOnlyList<string>? classes = null) =>
        FromItems(train.ToList(), valid.ToList(), test?.ToList(), options, classOrder: classes);

    private static (List<T> Train, List<T> Valid) SplitRandomly<T>(List<T> items, double validPct, int? seed, out int usedSeed)
    {
        usedSeed = seed ?? Random.Shared.Next();
        var (trainIdx, validIdx) = RandomSplit.Split(items.Count, validPct, usedSeed);
        return (trainIdx.Select(i => items[i]).ToList(), validIdx.Select(i => items[i]).ToList());
    }

    private static List<(string, string?)> TestFolder(string folder, ref int ignored)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The test folder '{folder}' does not exist.");
        var items = ImageFiles.In(folder, ref ignored).Select(p => (p, (string?)null)).ToList();
        if (ImageFiles.Subfolders(folder).Count > 0)
            items.AddRange(ImageFiles.ByClassFolder(folder, "test", ref ignored).Select(t => (t.Path, (string?)t.Label)));
        if (items.Count == 0) throw new InvalidDataException($"The test folder '{folder}' holds no images.");
        return items;
    }

    private static bool ParseBool(string value, string csv, int line) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "valid" => true,
        "false" or "0" or "no" or "" or "train" => false,
        _ => throw new InvalidDataException($"CSV file '{csv}', line {line}: '{value}' is not true/false in the validation column."),
    };
}
