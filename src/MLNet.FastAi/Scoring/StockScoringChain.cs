using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Scoring;

/// <summary>
/// Builds the scoring model that <c>mlContext.Model.Save</c> writes: stock ML.NET transformers only, so the zip loads
/// with plain <c>mlContext.Model.Load</c> in an application that references Microsoft.ML, Microsoft.ML.ImageAnalytics
/// and Microsoft.ML.OnnxTransformer, and neither TorchSharp nor this package.
/// </summary>
/// <remarks>
/// The chain, in order:
/// <list type="number">
/// <item>ImageAnalytics: LoadImages (for a path column), ResizeImages, ExtractPixels — the training decode
/// (<see cref="ImagePipeline"/>), as FLOAT 0..255.</item>
/// <item>OnnxTransformer running the exported network (<see cref="CnnOnnxSignature.MLNetRow"/>): probabilities whose
/// slot names are the class names, and a one-hot vector of the most probable class.</item>
/// <item>A naive Bayes multiclass prediction transformer trained on the one-hot basis (<see cref="PredictedLabelLookup"/>):
/// <c>PredictedLabel</c>, a UInt32 key with the class names as key values.</item>
/// <item>CopyColumns: <c>Score</c> ← the network's probabilities (hiding the lookup's own score).</item>
/// <item>DropColumns: the intermediate columns, so the output shows the input columns plus <c>Score</c> and
/// <c>PredictedLabel</c>.</item>
/// </list>
/// The image folder given for path columns is stored in the model, as LoadImages stores it. A column of encoded image
/// bytes is first decoded by <see cref="EncodedImageDecoder"/>, the one part that is not stock ML.NET: such a chain
/// scores in process, and refuses to be saved.
/// </remarks>
internal static class StockScoringChain
{
    public const string ScoreColumn = "Score";
    public const string PredictedLabelColumn = "PredictedLabel";

    /// <summary>Exports <paramref name="model"/> and fits the chain (see the type's remarks).</summary>
    public static TransformerChain<ITransformer> Fit(MLContext context, IDataView input, string imageColumn, string imageFolder,
        ImagePipeline pipeline, CnnModel model, NormalizationStats normalization, IReadOnlyList<string> classNames,
        string scoreColumn = ScoreColumn, string predictedLabelColumn = PredictedLabelColumn)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        byte[] onnx = CnnOnnxExporter.ExportBytes(model, pipeline.Width, pipeline.Height, normalization, classNames, CnnOnnxSignature.MLNetRow);
        return Fit(context, input, imageColumn, imageFolder, pipeline, onnx, classNames, scoreColumn, predictedLabelColumn);
    }

    /// <summary>
    /// Fits the chain around an ONNX model exported with <see cref="CnnOnnxSignature.MLNetRow"/>. Only the schema of
    /// <paramref name="input"/> is used (no rows are read): it must hold <paramref name="imageColumn"/> as text (image
    /// paths, relative to <paramref name="imageFolder"/> unless absolute), as loaded images, or as encoded image bytes.
    /// The outputs are named <paramref name="scoreColumn"/> and <paramref name="predictedLabelColumn"/>.
    /// </summary>
    public static TransformerChain<ITransformer> Fit(MLContext context, IDataView input, string imageColumn, string imageFolder,
        ImagePipeline pipeline, byte[] onnxModel, IReadOnlyList<string> classNames,
        string scoreColumn = ScoreColumn, string predictedLabelColumn = PredictedLabelColumn)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentException.ThrowIfNullOrEmpty(imageColumn);
        ArgumentNullException.ThrowIfNull(imageFolder);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(onnxModel);
        pipeline.Validate();
        ArgumentNullException.ThrowIfNull(classNames);
        CnnOnnxExporter.CheckClassNames(classNames, classNames.Count);
        ArgumentException.ThrowIfNullOrEmpty(scoreColumn);
        ArgumentException.ThrowIfNullOrEmpty(predictedLabelColumn);
        if (scoreColumn == predictedLabelColumn) throw new ArgumentException($"The score and predicted-label columns must have different names; both are '{scoreColumn}'.", nameof(predictedLabelColumn));
        var kind = ImageColumnKindOf(input.Schema, imageColumn);
        var signature = CnnOnnxSignature.MLNetRow;
        CheckSignature(onnxModel, signature, pipeline, classNames.Count);

        var parts = new List<ITransformer>();
        IDataView view = input;
        void Append(ITransformer transformer)
        {
            parts.Add(transformer);
            view = transformer.Transform(view);
        }

        try
        {
            string source = imageColumn;
            if (kind == ImageColumnKind.EncodedBytes)
            {
                Append(new EncodedImageDecoder(imageColumn, ImageDataOptions.DefaultMaxImagePixels));
                source = EncodedImageDecoder.DecodedColumn;
            }
            foreach (var step in Flatten(pipeline.BuildEstimator(context, source, kind == ImageColumnKind.Path, signature.PixelsInput, asFloat: true, imageFolder).Fit(view)))
                Append(step);
            Append(OwnedOnnxTransformer.Fit(context, view, [signature.ScoreOutput, signature.PredictedOneHotOutput!], [signature.PixelsInput], onnxModel));
            Append(PredictedLabelLookup.Fit(context, classNames, signature.PredictedOneHotOutput!));
            // The lookup writes PredictedLabel and its own Score; copies give the asked-for names, the network's probabilities the score.
            if (predictedLabelColumn != PredictedLabelColumn) Append(context.Transforms.CopyColumns(predictedLabelColumn, PredictedLabelColumn).Fit(view));
            Append(context.Transforms.CopyColumns(scoreColumn, signature.ScoreOutput).Fit(view));
            string[] intermediate = new[]
                {
                    EncodedImageDecoder.DecodedColumn, ImagePipeline.LoadedColumn, ImagePipeline.ResizedColumn, signature.PixelsInput, signature.ScoreOutput,
                    signature.PredictedOneHotOutput!, PredictedLabelColumn, ScoreColumn,
                }
                .Where(name => name != scoreColumn && name != predictedLabelColumn && name != imageColumn)
                .Where(name => view.Schema.GetColumnOrNull(name) is { IsHidden: false } && input.Schema.GetColumnOrNull(name) is null)
                .ToArray();
            Append(context.Transforms.DropColumns(intermediate).Fit(view));
        }
        catch
        {
            // The OnnxTransformer holds a session and a temporary copy of the model.
            foreach (var part in parts.OfType<IDisposable>()) part.Dispose();
            throw;
        }
        return new TransformerChain<ITransformer>(parts.ToArray());
    }

    /// <summary>The transformers of nested chains in order, so the saved model is one flat chain.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    private static ImageColumnKind ImageColumnKindOf(DataViewSchema schema, string imageColumn)
    {
        var column = schema.GetColumnOrNull(imageColumn)
            ?? throw new ArgumentException($"The data has no column '{imageColumn}'; its columns are: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.", nameof(imageColumn));
        return ImageColumnKinds.Of(column.Type)
            ?? throw new ArgumentException($"Column '{imageColumn}' holds {column.Type}; it must hold {ImageColumnKinds.Accepted}.", nameof(imageColumn));
    }

    private static void CheckSignature(byte[] onnxModel, CnnOnnxSignature signature, ImagePipeline pipeline, int classCount)
    {
        var graph = OnnxModelReader.Read(onnxModel, "The scoring ONNX model").Graph;
        Expect(graph.Input, signature.PixelsInput, [1, 3, pipeline.Height, pipeline.Width], "input");
        Expect(graph.Output, signature.ScoreOutput, [classCount], "output");
        Expect(graph.Output, signature.PredictedOneHotOutput!, [classCount], "output");
    }

    private static void Expect(IEnumerable<ValueInfoProto> values, string name, long[] shape, string what)
    {
        var value = values.FirstOrDefault(v => v.Name == name)
            ?? throw new ArgumentException($"The scoring ONNX model has no {what} '{name}'; export it with the ML.NET row signature.");
        if (value.Type?.TensorType?.ElemType != OnnxDataType.Float || !OnnxModelReader.Shape(value).SequenceEqual(shape.Select(d => (long?)d)))
            throw new ArgumentException($"The scoring ONNX model's {what} '{name}' is {OnnxModelReader.Describe(value)}; expected Float [{string.Join(", ", shape)}] (image size and class count must match).");
    }
}
