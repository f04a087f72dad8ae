using Microsoft.ML;
using Microsoft.ML.Data;

using MLNet.FastAi.Scoring;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// The annotations ML.NET's multiclass trainers put on their score column, so that evaluators and tooling that look
/// for a score column (AutoML among them) recognise it: <c>ScoreColumnKind</c> = MulticlassClassification,
/// <c>ScoreValueKind</c> = Score, <c>ScoreColumnSetId</c> (shared with the predicted label) and
/// <c>TrainingLabelValues</c> (the class names), beside the <c>SlotNames</c> the network's output already has.
/// </summary>
/// <remarks>
/// In process only. The saved zip's score column is ML.NET's ONNX transformer's output, which carries slot names (from
/// the exported graph) but no other annotations, and no stock transform adds them; its predicted label, the stock
/// naive Bayes lookup's, carries all of its own.
/// </remarks>
internal static class ScoreAnnotations
{
    // ML.NET's names (its AnnotationUtils, which is internal).
    private const string SlotNames = "SlotNames";
    private const string ScoreColumnKind = "ScoreColumnKind";
    private const string ScoreValueKind = "ScoreValueKind";
    private const string ScoreColumnSetId = "ScoreColumnSetId";
    private const string TrainingLabelValues = "TrainingLabelValues";

    /// <summary>The extension of a scored schema that gives <paramref name="scoreColumn"/> the multiclass annotations.</summary>
    public static SchemaExtension For(DataViewSchema scored, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> classes)
    {
        var score = scored[scoreColumn];
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(score.Annotations, name => name == SlotNames);
        AddText(builder, ScoreColumnKind, "MulticlassClassification");
        AddText(builder, ScoreValueKind, "Score");
        if (scored.GetColumnOrNull(predictedLabelColumn)?.Annotations is { } predicted && predicted.Schema.GetColumnOrNull(ScoreColumnSetId) is { } setId)
            builder.Add(ScoreColumnSetId, setId.Type, (ref uint value) => predicted.GetValue(ScoreColumnSetId, ref value));
        var names = new VBuffer<ReadOnlyMemory<char>>(classes.Count, classes.Select(c => c.AsMemory()).ToArray());
        builder.Add(TrainingLabelValues, new VectorDataViewType(TextDataViewType.Instance, classes.Count),
            (ref VBuffer<ReadOnlyMemory<char>> value) => names.CopyTo(ref value));
        return new SchemaExtension(scored, new Dictionary<string, DataViewSchema.Annotations> { [scoreColumn] = builder.ToAnnotations() }, null);
    }

    private static void AddText(DataViewSchema.Annotations.Builder builder, string name, string text) =>
        builder.Add(name, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = text.AsMemory());
}
