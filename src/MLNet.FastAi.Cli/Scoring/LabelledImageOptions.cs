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

    private List<(string, string)> ReadCsv(string csv, ParseResult parse) =>
        LabelledCsv.Read(csv, Path.Combine(Path.GetDirectoryName(csv)!, parse.GetValue(ImageFolder) ?? ""), parse.GetValue(FileNameColumn)!,
                parse.GetValue(LabelColumn)!, hasHeader: !parse.GetValue(NoHeader), parse.GetValue(Suffix) ?? "")
            .Select(row => (row.Path, row.Label)).ToList();
}
