using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// <c>mlContext.Data.LoadFromImageFolder(...)</c> and <c>LoadFromImageCsv(...)</c>: labelled image files as an
/// <see cref="IDataView"/> of two text columns, image path and label, in one call and without decoding anything. The
/// view goes straight into <c>TrainTestSplit</c>, <c>ShuffleRows</c>, <c>MapValueToKey</c> and the FastAiCnn trainer.
/// (In the <c>Microsoft.ML</c> namespace, as ML.NET's own catalog extensions are.)
/// </summary>
public static class ImageFolderCatalog
{
    /// <summary>
    /// One row per image in a folder of class subfolders, labelled with its subfolder's name (fastai's
    /// <c>parent_label</c>; images nested deeper take their top-level class folder's name). Files are found as
    /// fastai's <c>get_image_files</c> does: by image extension, hidden entries skipped, in sorted order; other files
    /// are ignored and counted in ML.NET's log.
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="path">The folder whose subfolders are the classes (e.g. MNIST's <c>training</c>).</param>
    /// <param name="imageColumnName">The column of full image paths.</param>
    /// <param name="labelColumnName">The column of class names (text; key it with <c>MapValueToKey</c>).</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">The folder has no class subfolders, or a class folder holds no image.</exception>
    public static IDataView LoadFromImageFolder(this DataOperationsCatalog catalog, string path, string imageColumnName = "ImagePath", string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        CheckColumnNames(imageColumnName, labelColumnName);
        int ignored = 0;
        var items = ImageFiles.ByClassFolder(Path.GetFullPath(path), "image", ref ignored);
        if (ignored > 0 && FastAiCatalog.EnvironmentOf(catalog) is { } environment)
        {
            using var channel = environment.Start("LoadFromImageFolder");
            channel.Info(MessageSensitivity.UserData, "{0}", $"LoadFromImageFolder: {items.Count} images in '{Path.GetFullPath(path)}'; {ignored} file(s) without an image extension ignored.");
        }
        return ToView(catalog, items, imageColumnName, labelColumnName);
    }

    /// <summary>
    /// One row per line of a CSV file of image file names and labels (fastai's <c>from_csv</c> without the split):
    /// every named file must exist, every cell be filled, and no file be listed twice; errors name the line.
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="csvPath">The CSV file (RFC 4180: quoted fields may hold commas).</param>
    /// <param name="imageFolder">Folder the file names are relative to; null for the CSV file's folder.</param>
    /// <param name="fileNameColumn">The column of file names: a header name or a zero-based index.</param>
    /// <param name="labelColumn">The column of labels: a header name or a zero-based index.</param>
    /// <param name="hasHeader">Whether the first line names the columns.</param>
    /// <param name="suffix">Appended to every file name (fastai's <c>suff</c>), e.g. ".png".</param>
    /// <param name="imageColumnName">The column of full image paths.</param>
    /// <param name="labelColumnName">The column of labels (text).</param>
    /// <exception cref="FileNotFoundException">The CSV file, or a file it names, does not exist.</exception>
    /// <exception cref="InvalidDataException">A missing column, an empty cell or a file listed twice (with its line).</exception>
    public static IDataView LoadFromImageCsv(this DataOperationsCatalog catalog, string csvPath, string? imageFolder = null, string fileNameColumn = "0",
        string labelColumn = "1", bool hasHeader = true, string suffix = "", string imageColumnName = "ImagePath", string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(csvPath);
        ArgumentNullException.ThrowIfNull(suffix);
        CheckColumnNames(imageColumnName, labelColumnName);
        string csv = Path.GetFullPath(csvPath);
        var items = LabelledCsv.Read(csv, imageFolder ?? Path.GetDirectoryName(csv)!, fileNameColumn, labelColumn, hasHeader, suffix)
            .Select(row => (row.Path, row.Label)).ToList();
        return ToView(catalog, items, imageColumnName, labelColumnName);
    }

    private static void CheckColumnNames(string imageColumnName, string labelColumnName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        if (imageColumnName == labelColumnName)
            throw new ArgumentException($"The image and label columns need different names; both are '{imageColumnName}'.", nameof(labelColumnName));
    }

    private static IDataView ToView(DataOperationsCatalog catalog, List<(string Path, string Label)> items, string imageColumnName, string labelColumnName)
    {
        var definition = SchemaDefinition.Create(typeof(LabelledImage));
        // Both looked up before either is renamed: a new name may be the other's old one.
        var (image, label) = (definition[nameof(LabelledImage.ImagePath)], definition[nameof(LabelledImage.Label)]);
        image.ColumnName = imageColumnName;
        label.ColumnName = labelColumnName;
        return catalog.LoadFromEnumerable(items.Select(i => new LabelledImage { ImagePath = i.Path, Label = i.Label }).ToList(), definition);
    }

    private sealed class LabelledImage
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }
}
