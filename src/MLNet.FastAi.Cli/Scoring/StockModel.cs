using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Pipelines;

namespace MLNet.FastAi.Cli.Scoring;

/// <summary>
/// A model zip loaded with plain ML.NET (<c>mlContext.Model.Load</c>), as any application would: a text column
/// <c>ImagePath</c> in, <c>Score</c> (class probabilities, slot names = classes) and <c>PredictedLabel</c> out.
/// </summary>
internal sealed class StockModel : IDisposable
{
    public const string ImageColumn = "ImagePath";
    private const string LabelColumn = "Label";

    private readonly MLContext _context;
    private readonly ITransformer _model;

    private StockModel(MLContext context, ITransformer model, IReadOnlyList<string> classes, string path)
    {
        _context = context;
        _model = model;
        Classes = classes;
        FilePath = path;
    }

    /// <summary>The class names, in score order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>The zip's full path.</summary>
    public string FilePath { get; }

    /// <summary>Loads a zip; anything that is not an image classifier over image paths is an input error naming the file.</summary>
    public static StockModel Load(string path)
    {
        string full = InputPaths.RequireFile(path, "model");
        var context = new MLContext();
        ITransformer model;
        DataViewSchema input;
        try
        {
            model = context.Model.LoadChecked(full, out input);
        }
        catch (InvalidDataException e)
        {
            throw CliException.Input(e.Message, e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw CliException.Input($"'{path}' could not be loaded as an ML.NET model zip ({e.Message}).", e);
        }
        try
        {
            if (input.GetColumnOrNull(ImageColumn) is not { Type: TextDataViewType })
                throw CliException.Input($"The model '{path}' does not take a text column '{ImageColumn}' of image paths; its inputs are: " +
                                         $"{string.Join(", ", input.Select(c => $"{c.Name} ({c.Type})"))}. Use a model saved by 'mlnet-fastai train'.");
            IReadOnlyList<string> classes;
            try
            {
                classes = MLNetInterpretation.ClassNames(model.GetOutputSchema(input));
            }
            catch (ArgumentException e)
            {
                throw CliException.Input($"The model '{path}' is not a classifier with named classes: {e.Message}", e);
            }
            return new StockModel(context, model, classes, full);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Class probabilities for each image, in order.</summary>
    public float[][] Score(IReadOnlyList<string> imagePaths)
    {
        var data = _context.Data.LoadFromEnumerable(imagePaths.Select(p => new ImageRow { ImagePath = p, Label = "" }));
        return _model.Transform(data).GetColumn<float[]>("Score").ToArray();
    }

    /// <summary>
    /// Scores labelled images and evaluates them with ML.NET's multiclass evaluator. Every label must be one of
    /// <see cref="Classes"/> (the caller checks: ML.NET would silently skip the others).
    /// </summary>
    public (float[][] Scores, MulticlassClassificationMetrics Metrics) Evaluate(IReadOnlyList<(string Path, string Label)> images)
    {
        var data = _context.Data.LoadFromEnumerable(images.Select(i => new ImageRow { ImagePath = i.Path, Label = i.Label }));
        var scored = _context.Data.Cache(_model.Transform(data));
        var classList = _context.Data.LoadFromEnumerable(Classes.Select(c => new ClassName { Value = c }));
        var labeled = _context.Transforms.Conversion.MapValueToKey(LabelColumn, keyData: classList).Fit(scored).Transform(scored);
        var metrics = _context.MulticlassClassification.Evaluate(labeled, LabelColumn);
        return (labeled.GetColumn<float[]>("Score").ToArray(), metrics);
    }

    public void Dispose() => (_model as IDisposable)?.Dispose();

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    private sealed class ClassName
    {
        public string Value { get; set; } = "";
    }
}
