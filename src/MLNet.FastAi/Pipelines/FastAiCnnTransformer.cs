using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// The trained classifier as an ML.NET transformer: it adds <c>Score</c> and <c>PredictedLabel</c>. Scoring and saving
/// go through a chain of stock ML.NET components (ImageAnalytics decode, the ONNX export of the network run by
/// ONNX Runtime, a key lookup), so <c>mlContext.Model.Save</c> writes a zip that loads with plain ML.NET — no
/// TorchSharp, no libtorch, no MLNet.FastAi. The trained <see cref="Learner"/> stays available for interpretation
/// and further training.
/// </summary>
/// <remarks>
/// <see cref="Transform"/> is safe from several threads, like ML.NET's own transformers; a PredictionEngine is not
/// (create one per thread or use a PredictionEnginePool). Dispose the transformer to free the learner's model.
/// </remarks>
public sealed class FastAiCnnTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _scoring;

    internal FastAiCnnTransformer(Learner learner, TransformerChain<ITransformer> scoring)
    {
        Learner = learner;
        _scoring = scoring;
    }

    /// <summary>The learner that trained the network (its recorder, interpretation, predictions, checkpoints).</summary>
    public Learner Learner { get; }

    /// <summary>The class names, in the order of the label key and of the <c>Score</c> slots.</summary>
    public IReadOnlyList<string> Classes => Learner.Data.Classes;

    /// <summary>The stock ML.NET chain that scores and is saved.</summary>
    public ITransformer ScoringModel => _scoring;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)_scoring).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _scoring.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_scoring).GetRowToRowMapper(inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => _scoring.Transform(input);

    /// <summary>Writes the stock scoring chain: what <c>mlContext.Model.Save</c> calls.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_scoring).Save(ctx);

    /// <summary>
    /// Exports the network to an ONNX file (input <c>pixels</c> [batch, 3, H, W] RGB 0..255; outputs <c>Score</c>,
    /// <c>PredictedIndex</c>, <c>PredictedLabel</c>); returns its path.
    /// </summary>
    public string ExportOnnx(string path) => Learner.ExportOnnx(path);

    /// <summary>
    /// Evaluates like <c>mlContext.MulticlassClassification.Evaluate</c>, but first refuses rows whose label is not one
    /// of the model's classes — which the stock evaluator would silently skip — naming the first one.
    /// </summary>
    /// <exception cref="InvalidDataException">A row's label is missing or unknown to the model.</exception>
    public MulticlassClassificationMetrics Evaluate(MLContext context, IDataView data, string labelColumnName = "Label")
    {
        var scored = Transform(data);
        LabelCheck.EnsureAllKnown(scored, labelColumnName, Classes);
        return context.MulticlassClassification.Evaluate(scored, labelColumnName);
    }

    /// <summary>Confusion matrix, top losses and report for labelled data scored by this model.</summary>
    public ClassificationInterpretation Interpret(IDataView data, string labelColumnName = "Label", string? imageColumnName = null) =>
        MLNetInterpretation.FromScoredData(Transform(data), Classes, labelColumnName, imageColumnName);

    /// <summary>Frees the learner's model and data.</summary>
    public void Dispose()
    {
        Learner.Data.Dispose();
        Learner.Dispose();
        _scoring.Dispose();
    }
}
