using Microsoft.ML.Data;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Pipelines;

namespace MLNet.FastAi.Cli.Scoring;

/// <summary>A model scored on labelled images: ML.NET's metrics and fastai's interpretation of the same scores.</summary>
internal sealed record Evaluation(MulticlassClassificationMetrics Metrics, ClassificationInterpretation Interpretation)
{
    /// <summary>Checks the labels, scores the images once and interprets the scores.</summary>
    public static Evaluation Run(StockModel model, IReadOnlyList<(string Path, string Label)> images)
    {
        LabelCheck.RefuseUnknown(images, model.Classes, $"the model '{model.FilePath}'");
        var (scores, metrics) = model.Evaluate(images);
        var classIndex = model.Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var interpretation = ClassificationInterpretation.FromProbabilities(model.Classes, scores,
            images.Select(i => classIndex[i.Label]).ToArray(), images.Select(i => i.Path).ToList());
        return new Evaluation(metrics, interpretation);
    }
}
