using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Training;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// The trained classifier as an ML.NET transformer: it adds the score (class probabilities) and predicted-label
/// columns. Scoring and saving go through a chain of stock ML.NET components (ImageAnalytics decode, the ONNX export of
/// the network run by ONNX Runtime, a key lookup), so <c>mlContext.Model.Save</c> writes a zip that loads with plain
/// ML.NET — no TorchSharp, no libtorch, no MLNet.FastAi. The trained <see cref="Learner"/> stays available for
/// interpretation and further training.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Transform"/> is safe from several threads, like ML.NET's own transformers; a PredictionEngine is not
/// (create one per thread or use a PredictionEnginePool). Dispose the transformer to free the learner's model.
/// </para>
/// <para>
/// A model trained on encoded image bytes scores in process but cannot be saved: no stock ML.NET component decodes
/// bytes, and <c>Model.Save</c> fails naming the column and the way out (train on a path column).
/// </para>
/// </remarks>
public sealed class FastAiCnnTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _scoring;

    internal FastAiCnnTransformer(Learner learner, TransformerChain<ITransformer> scoring, string imageColumnName, string scoreColumnName, string predictedLabelColumnName,
        Int8Report? int8Report)
    {
        Learner = learner;
        Int8Report = int8Report;
        _scoring = scoring;
        ImageColumnName = imageColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The learner that trained the network (its recorder, interpretation, predictions, checkpoints).</summary>
    public Learner Learner { get; }

    /// <summary>
    /// With <see cref="FastAiCnnOptions.Int8"/>: the calibration and the validation accuracy of the network in float32
    /// and int8; <see cref="Training.Int8Report.Accepted"/> says which of the two this model scores and saves. Null
    /// otherwise.
    /// </summary>
    public Int8Report? Int8Report { get; }

    /// <summary>The class names, in the order of the label key and of the score's slots.</summary>
    public IReadOnlyList<string> Classes => Learner.Data.Classes;

    /// <summary>The input column the images come from.</summary>
    public string ImageColumnName { get; }

    /// <summary>The output column of class probabilities.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The output key column of the predicted class.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>
    /// The chain that scores and is saved: stock ML.NET components, except for a model trained on encoded bytes, which
    /// starts with an in-process decoder and cannot be saved. Its score column carries only slot names (see
    /// <see cref="Transform"/>).
    /// </summary>
    public ITransformer ScoringModel => _scoring;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)_scoring).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Annotated(_scoring.GetOutputSchema(inputSchema)).Schema;

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        var scoring = ((ITransformer)_scoring).GetRowToRowMapper(inputSchema);
        return new ExtendedMapper(inputSchema, scoring, Annotated(scoring.OutputSchema));
    }

    /// <summary>
    /// Scores <paramref name="input"/>. The score column carries, besides its slot names, the annotations of ML.NET's
    /// multiclass trainers (score column kind and value kind, score set, training label values); the saved model's
    /// score column has only the slot names, which is all ML.NET's evaluator needs.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        var scored = _scoring.Transform(input);
        return new ExtendedView(scored, Annotated(scored.Schema));
    }

    private SchemaExtension Annotated(DataViewSchema scored) => ScoreAnnotations.For(scored, ScoreColumnName, PredictedLabelColumnName, Classes);

    /// <summary>Writes the stock scoring chain: what <c>mlContext.Model.Save</c> calls.</summary>
    /// <exception cref="NotSupportedException">The model reads encoded image bytes, which no stock ML.NET component decodes (the message names the column and the way out).</exception>
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
        return context.MulticlassClassification.Evaluate(scored, labelColumnName, ScoreColumnName, PredictedLabelColumnName);
    }

    /// <summary>Confusion matrix, top losses and report for labelled data scored by this model.</summary>
    public ClassificationInterpretation Interpret(IDataView data, string labelColumnName = "Label", string? imageColumnName = null) =>
        MLNetInterpretation.FromScoredData(Transform(data), Classes, labelColumnName, imageColumnName, ScoreColumnName);

    /// <summary>Frees the learner's model and data.</summary>
    public void Dispose()
    {
        Learner.Data.Dispose();
        Learner.Dispose();
        _scoring.Dispose();
    }
}
