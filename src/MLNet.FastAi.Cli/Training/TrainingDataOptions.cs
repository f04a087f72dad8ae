using System.CommandLine;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Recipes;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Cli.Training;

/// <summary>
/// The data options of <c>train</c> and <c>lr-find</c>: where the labelled images are (a folder of class folders, or a
/// CSV file) and how they are split, resized, normalized, batched and augmented.
/// </summary>
internal sealed class TrainingDataOptions
{
    /// <summary>The data path's defaults, which the flags' defaults show.</summary>
    private static readonly ImageDataOptions Defaults = new();

    public Argument<string> Data { get; } = new("data")
    {
        Description = "The dataset: a folder holding training (and validation) folders of class subfolders, or a CSV file " +
                      "listing images and labels (also: a folder with --csv).",
    };

    public Option<string?> Train { get; } = Options.Text("--train", "Training folder inside <data>, one subfolder per class.", "train", "folder");
    public Option<string?> Valid { get; } = Options.Text("--valid", "Validation folder inside <data> [default: valid]; or use --valid-pct.", helpName: "folder");
    public Option<double?> ValidPct { get; } = Options.Fraction(OptionKey.ValidationFraction.Flag!, "Hold out this fraction of the training images (or CSV rows) for validation, chosen with --seed [CSV default: 0.2].");
    public Option<string?> Test { get; } = Options.Text("--test", "Test folder inside <data>, kept apart from training; with class subfolders it is scored after training.", helpName: "folder");
    public Option<string?> Csv { get; } = Options.Text("--csv", "CSV file inside <data> listing images and labels (fastai's from_csv).", helpName: "file");
    public Option<string?> FileNameColumn { get; } = Options.Text("--fn-col", "CSV column of image file names: a header name or a zero-based index.", "0", "column");
    public Option<string?> LabelColumn { get; } = Options.Text("--label-col", "CSV column of labels: a header name or a zero-based index.", "1", "column");
    public Option<string?> ValidColumn { get; } = Options.Text("--valid-col", "CSV column of true/false marking validation rows (else --valid-pct).", helpName: "column");
    public Option<string?> ImageFolder { get; } = Options.Text("--image-folder", "Folder, inside the CSV's folder, that CSV file names are relative to.", helpName: "folder");
    public Option<string?> Suffix { get; } = Options.Text("--suffix", "Appended to every CSV file name, e.g. .png.", helpName: "text");
    public Option<int?> ImageSize { get; } = Options.Whole(OptionKey.ImageSize, "Square side, in pixels, the model sees (fastai's usual: 224) [default: the images' size, when they all have one].");
    public Option<int?> ItemSize { get; } = Options.Whole(OptionKey.ItemSize, "Presizing: decode training images at this larger size (fastai: 460), then crop each batch to --image-size.");
    public Option<double?> MinScale { get; } = Options.Fraction("--min-scale", "With --augment: random resized crops keep at least this share of the area (fastai's presizing recipe: 0.75).");
    public Option<string?> Cache { get; } = Options.Choice(OptionKey.Cache.Flag!, "Where decoded images are kept: memory, a disk cache, or nowhere (stream); auto chooses by size.",
        Lower(Defaults.Cache), "auto", "memory", "disk", "stream");
    public Option<string?> CacheDir { get; } = Options.Text(OptionKey.CacheFolder.Flag!, "Folder of the disk cache [default: image-cache in FASTAI_HOME, else ~/.fastai].", helpName: "folder");
    public Option<double?> CacheLimit { get; } = Options.PositiveNumber(OptionKey.CacheSizeLimit.Flag!,
        $"GiB the disk cache folder keeps: after each build the least recently used caches beyond it are removed, never one in use [default: {Defaults.CacheSizeLimit >> 30}].");
    public Option<int?> MaxImagePixels { get; } = Options.MaxImagePixels();
    public Option<int?> BatchSize { get; } = Options.Whole(OptionKey.BatchSize, $"Training batch size [default: {Defaults.BatchSize}].");
    public Option<string?> Resize { get; } = Options.Choice(OptionKey.Resize.Flag!, "How images reach the square size: centre-crop, pad, or squish (images of square proportions only: stretching would be nearest-neighbour).",
        Lower(Defaults.Resize), "squish", "crop", "pad");
    public Option<string?> Normalize { get; } = Options.Choice(OptionKey.Normalization.Flag!, "Input normalization statistics [default: imagenet when pretrained, none otherwise].", null, "imagenet", "mnist", "cifar", "none");
    public Option<bool> Augment { get; } = Options.Flag(OptionKey.Augmentation, "Augment training batches with fastai's aug_transforms (flip, rotate, zoom, warp, lighting).");
    public Option<bool> NoFlip { get; } = Options.Flag("--no-flip", "With --augment: no horizontal flips (for digits, text, anything with a handedness).");
    public Option<int?> Seed { get; } = Options.OptionalInt(OptionKey.Seed.Flag!, "Seed for the validation split, shuffling, augmentation and the initial head weights.", 0);
    public Option<bool> SkipBadImages { get; } = Options.Flag(OptionKey.OnBadImage, "Leave out images that cannot be decoded (counted in a warning) instead of stopping.");

    public void AddTo(Command command)
    {
        command.Add(Data);
        foreach (Option option in new Option[] { Train, Valid, ValidPct, Test, Csv, FileNameColumn, LabelColumn, ValidColumn, ImageFolder, Suffix,
                     ImageSize, ItemSize, BatchSize, Resize, Normalize, Augment, NoFlip, MinScale, Cache, CacheDir, CacheLimit, MaxImagePixels, Seed, SkipBadImages })
            command.Add(option);
    }

    /// <summary>
    /// Decodes the dataset described by the options for <paramref name="recipe"/> (whose settings were checked);
    /// input problems are input errors naming the file or folder.
    /// </summary>
    public ImageDataLoaders Load(ParseResult parse, CliConsole console, TrainingRecipe recipe)
    {
        var (root, csv) = Locate(parse);
        CheckCombinations(parse, csv is not null);
        var options = recipe.LoadingOptions(null) with { Log = console.WriteLine };
        console.WriteLine(csv is null ? $"Loading images from {InputPaths.Display(root)} ..." : $"Loading images listed in {InputPaths.Display(Path.Combine(root, csv))} ...");
        var data = csv is null
            ? ImageDataLoaders.FromFolder(root, parse.GetValue(Train)!, parse.GetValue(Valid) ?? "valid", parse.GetValue(ValidPct), parse.GetValue(Test), options)
            : ImageDataLoaders.FromCsv(root, csv, parse.GetValue(FileNameColumn)!, parse.GetValue(LabelColumn)!, parse.GetValue(ValidColumn),
                parse.GetValue(ValidPct) ?? 0.2, parse.GetValue(ImageFolder), parse.GetValue(Suffix) ?? "", options: options);
        console.WriteLine($"Data: {data.Train.Count} training and {data.Valid.Count} validation images" +
                          (data.Test is { } test ? $", {test.Count} test images" : "") +
                          $"; {data.ClassCount} classes ({Summary(data.Classes)}); images {data.Pipeline}; batch size {data.BatchSize}; seed {data.Seed}.");
        if (data.SkippedImages.Count > 0)
            console.Warn($"{data.SkippedImages.Count} image(s) could not be decoded and were left out, e.g. '{data.SkippedImages[0].Path}'.");
        if (data.IgnoredNonImageFiles > 0)
            console.Warn($"{data.IgnoredNonImageFiles} file(s) in the class folders are not images (by extension) and were left out.");
        return data;
    }

    private (string Root, string? Csv) Locate(ParseResult parse)
    {
        string data = parse.GetValue(Data)!;
        string full = Path.GetFullPath(data);
        if (File.Exists(full))
        {
            if (parse.GetValue(Csv) is not null) throw CliException.Usage($"<data> '{data}' is a file; --csv names a CSV file inside a dataset folder, so give the folder instead.");
            if (!full.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) throw CliException.Input($"The dataset '{data}' is a file but not a .csv file; give a folder of images or a CSV file.");
            return (Path.GetDirectoryName(full)!, Path.GetFileName(full));
        }
        if (!Directory.Exists(full)) throw CliException.Input($"The dataset '{data}' does not exist.");
        string? csv = parse.GetValue(Csv);
        if (csv is not null)
        {
            if (!File.Exists(Path.Combine(full, csv))) throw CliException.Input($"The CSV file '{Path.Combine(data, csv)}' does not exist.");
            return (full, csv);
        }
        string train = parse.GetValue(Train)!;
        if (!Directory.Exists(Path.Combine(full, train)))
            throw CliException.Input($"The training folder '{Path.Combine(data, train)}' does not exist; name it with --train (e.g. --train training).");
        string? valid = parse.GetValue(Valid);
        if (parse.GetValue(ValidPct) is null && !Directory.Exists(Path.Combine(full, valid ?? "valid")))
            throw CliException.Input($"The validation folder '{Path.Combine(data, valid ?? "valid")}' does not exist; " +
                                     (valid is null ? "name it with --valid, or " : "") + "hold out part of the training images with --valid-pct 0.2.");
        if (parse.GetValue(Test) is { } test && !Directory.Exists(Path.Combine(full, test)))
            throw CliException.Input($"The test folder '{Path.Combine(data, test)}' does not exist.");
        return (full, null);
    }

    private void CheckCombinations(ParseResult parse, bool isCsv)
    {
        if (isCsv)
        {
            foreach (var folderOption in new Option[] { Train, Valid, Test })
                if (parse.WasGiven(folderOption)) throw CliException.Usage($"{folderOption.Name} applies to folder datasets, not to a CSV file.");
            if (parse.WasGiven(ValidColumn) && parse.WasGiven(ValidPct)) throw CliException.Usage("Give --valid-col or --valid-pct, not both.");
        }
        else
        {
            foreach (var csvOption in new Option[] { FileNameColumn, LabelColumn, ValidColumn, ImageFolder, Suffix })
                if (parse.WasGiven(csvOption)) throw CliException.Usage($"{csvOption.Name} applies to CSV datasets; give a CSV file as <data> or use --csv.");
            if (parse.WasGiven(Valid) && parse.WasGiven(ValidPct)) throw CliException.Usage("Give --valid or --valid-pct, not both.");
        }
        if (parse.GetValue(NoFlip) && !parse.GetValue(Augment)) throw CliException.Usage("--no-flip only applies with --augment.");
        if (parse.WasGiven(MinScale) && !parse.GetValue(Augment)) throw CliException.Usage("--min-scale only applies with --augment.");
    }

    /// <summary>The data settings the command line asks for (checked with the rest of the run, by the recipe).</summary>
    public ImageDataOptions Build(ParseResult parse) => Defaults with
    {
        BatchSize = parse.GetValue(BatchSize) ?? Defaults.BatchSize,
        ImageSize = parse.GetValue(ImageSize),
        ItemSize = parse.GetValue(ItemSize),
        Cache = Enum.Parse<ImageCacheMode>(parse.GetValue(Cache)!, ignoreCase: true),
        CacheFolder = parse.GetValue(CacheDir),
        CacheSizeLimit = parse.GetValue(CacheLimit) is { } gib ? (long)(gib * (1L << 30)) : Defaults.CacheSizeLimit,
        MaxImagePixels = parse.GetValue(MaxImagePixels) ?? Defaults.MaxImagePixels,
        Resize = Enum.Parse<ResizeMethod>(parse.GetValue(Resize)!, ignoreCase: true),
        Seed = parse.GetValue(Seed),
        OnBadImage = parse.GetValue(SkipBadImages) ? BadImageHandling.Skip : BadImageHandling.Fail,
        Augmentation = parse.GetValue(Augment)
            ? AugmentationOptions.Default with { DoFlip = !parse.GetValue(NoFlip), MinScale = (float)(parse.GetValue(MinScale) ?? 1.0) }
            : null,
        Normalization = parse.GetValue(Normalize) switch
        {
            "imagenet" => NormalizationStats.ImageNet,
            "mnist" => NormalizationStats.Mnist,
            "cifar" => NormalizationStats.Cifar,
            "none" => NormalizationStats.None,
            _ => null,
        },
    };

    private static string Lower(Enum value) => value.ToString().ToLowerInvariant();

    private static string Summary(IReadOnlyList<string> classes) =>
        classes.Count <= 12 ? string.Join(", ", classes) : string.Join(", ", classes.Take(10)) + $", ... {classes.Count - 10} more";
}
