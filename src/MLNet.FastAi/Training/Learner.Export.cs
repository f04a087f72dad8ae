using Microsoft.ML;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Scoring;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>
    /// Exports the network, with its input normalization, to an ONNX file: input <c>pixels</c> [batch, 3, H, W] (RGB
    /// 0..255, as ImageAnalytics' ExtractPixels gives), outputs <c>Score</c>, <c>PredictedIndex</c> and
    /// <c>PredictedLabel</c>. Returns the file's path.
    /// </summary>
    public string ExportOnnx(string path)
    {
        using var use = Use(nameof(ExportOnnx));
        CnnOnnxExport.Save(_model, Data.Pipeline, Normalization, Data.Classes, path);
        return Path.GetFullPath(path);
    }

    /// <summary>
    /// The trained network as a stock ML.NET model over a text column of image paths: decode, ONNX network,
    /// <c>Score</c> and <c>PredictedLabel</c>. Save it with <c>mlContext.Model.Save</c>; it loads without this package.
    /// Dispose it when done: ML.NET's ONNX transformer keeps a temporary copy of the network on disk until then.
    /// </summary>
    /// <param name="context">The ML.NET context.</param>
    /// <param name="imageColumnName">The input column of image paths.</param>
    /// <param name="imageFolder">Folder that relative paths start from.</param>
    public ITransformer ToMLNetModel(MLContext context, string imageColumnName = "ImagePath", string imageFolder = "")
    {
        using var use = Use(nameof(ToMLNetModel));
        return StockScoringChain.Fit(context, EmptyInput(context, imageColumnName), imageColumnName, imageFolder, Data.Pipeline, _model, Normalization, Data.Classes);
    }

    /// <summary>Saves <see cref="ToMLNetModel"/> as an ML.NET zip (written aside, then moved into place); returns its path.</summary>
    /// <remarks>
    /// ML.NET does not check the zip's CRCs when it loads a model: a byte damaged in storage or transfer inside the
    /// network's weights can load without error and score differently. Load with
    /// <see cref="Microsoft.ML.CheckedModelLoading.LoadChecked"/> (<c>mlContext.Model.LoadChecked</c>), which checks
    /// every entry first. (Checkpoints written by <see cref="Save"/> are always checked when loaded.)
    /// </remarks>
    public string SaveMLNetModel(MLContext context, string path, string imageColumnName = "ImagePath", string imageFolder = "")
    {
        using var use = Use(nameof(SaveMLNetModel));
        var model = ToMLNetModel(context, imageColumnName, imageFolder);
        try
        {
            return AtomicFile.Write(path, file => context.Model.Save(model, EmptyInput(context, imageColumnName).Schema, file), durable: true);
        }
        finally
        {
            // ML.NET's ONNX transformer keeps a temporary copy of the network (tens of MB) until it is disposed.
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>An empty data view with one text column of image paths: the input schema of the saved model.</summary>
    private static IDataView EmptyInput(MLContext context, string imageColumnName)
    {
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(PathOnly));
        definition[0].ColumnName = imageColumnName;
        return context.Data.LoadFromEnumerable(Array.Empty<PathOnly>(), definition);
    }

    private sealed class PathOnly
    {
        public string ImagePath { get; set; } = "";
    }
}
