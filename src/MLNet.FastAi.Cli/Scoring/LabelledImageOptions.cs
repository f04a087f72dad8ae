using System.CommandLine;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Cli.Scoring;

/// <summary>
/// The labelled images of <c>evaluate</c> and <c>interpret</c>: a folder with one subfolder per class (the label is
/// the subfolder's name), or a CSV file of image file names and labels.
/// </summary>
internal sealed class LabelledImageOptions
{
    public Argument<string> Data { get; } = new("data")
    {
        Description = "Labelled images: a folder with one subfolder per class (e.g. mnist_sample/testing), or a CSV file of file names and labels.",
    };

    public Option<string?> FileNameColumn { get; } = Options.Text("--fn-col", "CSV column of image file names: a header name or a zero-based index.", "0", "column");
    public Option<string?> LabelColumn { get; } = Options.Text("--label-col", "CSV column of labels: a header name or a zero-based index.", "1", "column");
    public Option<string?> ImageFolder { get; } = Options.Text("--image-folder", "Folder, inside the CSV's folder, that CSV file names are relative to.", helpName: "folder");
    public Option<string?> Suffix { get; } = Options.Text("--suffix", "Appended to every CSV file name, e.g. .png.", helpName: "text");
    public Option<bool> NoHeader { get; } = Options.Flag("--no-header", "The CSV file has no header row.");
    public Option<int?> MaxImagePixels { get; } = Options.MaxImagePixels();

    public void AddTo(Command command)
    {
        command.Add(Data);
        foreach (var option in new Option[] { FileNameColumn, LabelColumn, ImageFolder, Suffix, NoHeader, MaxImagePixels }) command.Add(option);
    }

    /// <summary>The images and their labels; every problem is an input error naming the file, folder, line or column.</summary>
    public List<(string Path, string Label)> Read(ParseResult parse)
    {
        string data = parse.GetValue(Data)!;
        string full = Path.GetFullPath(data);
        bool csvOptions = new Option[] { FileNameColumn, LabelColumn, ImageFolder, Suffix, NoHeader }.Any(parse.WasGiven);
        List<(string, string)> images;
        if (Directory.Exists(full))
        {
            if (csvOptions) throw CliException.Usage($"CSV options were given but <data> '{data}' is a folder.");
            int ignored = 0;
            images = ImageFiles.ByClassFolder(full, "labelled images", ref ignored);
        }
        else if (File.Exists(full))
        {
            if (!full.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
                throw CliException.Input($"The labelled images '{data}' are a file but not a .csv file; give a folder of class subfolders or a CSV file.");
            images = ReadCsv(full, parse);
        }
        else throw CliException.Input($"The labelled images '{data}' do not exist.");
        if (images.Count == 0) throw CliException.Input($"'{data}' lists no images.");
        ImageFiles.RefuseDuplicates(images.Select(i => (i.Item1, "labelled", (string?)i.Item2)));
        InputPaths.RequireDecodableImages(images.Select(i => i.Item1), parse.GetValue(MaxImagePixels));
        return images;
    }

    /// <summary>Fails, naming an image, when a label is not one of the model's classes; ML.NET's evaluator would skip such rows silently.</summary>
    public static void RequireKnownLabels(IReadOnlyList<(string Path, string Label)> images, IReadOnlyList<string> classes, string modelPath)
    {
        var known = classes.ToHashSet(StringComparer.Ordinal);
        var unknown = images.Where(i => !known.Contains(i.Label)).ToList();
        if (unknown.Count == 0) return;
        var labels = unknown.Select(i => i.Label).Distinct(StringComparer.Ordinal).ToList();
        throw CliException.Input(
            $"{unknown.Count} image(s) have labels the model '{modelPath}' does not know: {string.Join(", ", labels.Take(10).Select(l => $"'{l}'"))}" +
            $"{(labels.Count > 10 ? ", ..." : "")} (first: '{unknown[0].Path}'). The model's classes are: {string.Join(", ", classes)}." +
            (unknown.Count == images.Count ? " Is <data> a folder whose subfolders are the classes (e.g. mnist_sample/testing)?" : ""));
    }

    private List<(string, string)> ReadCsv(string csv, ParseResult parse)
    {
        var rows = CsvTable.Read(csv);
        bool hasHeader = !parse.GetValue(NoHeader);
        if (rows.Count == 0 || (hasHeader && rows.Count == 1)) throw CliException.Input($"CSV file '{csv}' has no data rows.");
        var header = hasHeader ? rows[0] : null;
        int Column(Option<string?> option, string role)
        {
            string nameOrIndex = parse.GetValue(option)!;
            if (header is not null && Array.IndexOf(header, nameOrIndex) is >= 0 and var byName) return byName;
            if (int.TryParse(nameOrIndex, out int index) && index >= 0 && index < rows[0].Length) return index;
            throw CliException.Input($"CSV file '{csv}' has no {role} column '{nameOrIndex}' ({option.Name})" +
                                     (header is null ? $"; rows have {rows[0].Length} columns." : $"; its columns are: {string.Join(", ", header)}."));
        }
        int fileColumn = Column(FileNameColumn, "file name"), labelColumn = Column(LabelColumn, "label");
        string folder = Path.Combine(Path.GetDirectoryName(csv)!, parse.GetValue(ImageFolder) ?? "");
        string suffix = parse.GetValue(Suffix) ?? "";
        var images = new List<(string, string)>();
        for (int r = hasHeader ? 1 : 0; r < rows.Count; r++)
        {
            var row = rows[r];
            int line = r + 1;
            if (row.Length <= Math.Max(fileColumn, labelColumn))
                throw CliException.Input($"CSV file '{csv}', line {line}: {row.Length} columns, but column {Math.Max(fileColumn, labelColumn)} is needed.");
            string file = row[fileColumn].Trim(), label = row[labelColumn].Trim();
            if (file.Length == 0 || label.Length == 0)
                throw CliException.Input($"CSV file '{csv}', line {line}: empty {(file.Length == 0 ? "file name" : "label")}.");
            string image = Path.GetFullPath(Path.Combine(folder, file + suffix));
            if (!File.Exists(image)) throw CliException.Input($"CSV file '{csv}', line {line} names '{file + suffix}', but '{image}' does not exist.");
            images.Add((image, label));
        }
        return images;
    }
}
