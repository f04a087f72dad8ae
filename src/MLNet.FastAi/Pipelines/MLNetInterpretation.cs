using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Data.Sources.Columns;
using MLNet.FastAi.Interpretation;
using Microsoft.ML.Transforms.Image;

namespace MLNet.FastAi.Pipelines;

/// <summary>Builds a <see cref="ClassificationInterpretation"/> from data scored by any ML.NET multiclass model.</summary>
public static class MLNetInterpretation
{
    /// <summary>
    /// Interprets a loaded or trained ML.NET model on labelled data: scores <paramref name="data"/> with
    /// <paramref name="model"/> and reads <c>Score</c>, the key label and, when given, the image column — image paths
    /// (text), loaded images (<c>MLImage</c>) or encoded bytes — which the top-loss pictures show.
    /// </summary>
    public static ClassificationInterpretation FromModel(ITransformer model, IDataView data, string labelColumnName = "Label", string? imageColumnName = null)
    {
        var scored = model.Transform(data);
        return FromScoredData(scored, ClassNames(scored.Schema), labelColumnName, imageColumnName);
    }

    /// <summary>Interprets already-scored data (with a score column, <c>Score</c> unless named, and a key label).</summary>
    public static ClassificationInterpretation FromScoredData(IDataView scored, IReadOnlyList<string> classes, string labelColumnName = "Label", string? imageColumnName = null,
        string scoreColumnName = "Score")
    {
        var score = ScoreColumn(scored.Schema, nameof(scored), scoreColumnName);
        LabelCheck.EnsureAllKnown(scored, labelColumnName, classes);
        var label = scored.Schema[labelColumnName];
        var columns = new List<DataViewSchema.Column> { score, label };
        DataViewSchema.Column? image = null;
        ImageColumnKind? kind = null;
        if (imageColumnName is not null)
        {
            image = scored.Schema.GetColumnOrNull(imageColumnName) ?? throw new ArgumentException($"The data has no image column '{imageColumnName}'.", nameof(imageColumnName));
            kind = ImageColumnKinds.Of(image.Value.Type)
                ?? throw new ArgumentException($"Image column '{imageColumnName}' holds {image.Value.Type}; it must hold {ImageColumnKinds.Accepted}.", nameof(imageColumnName));
            if (kind == ImageColumnKind.Path) columns.Add(image.Value);
        }
        var probabilities = new List<float[]>();
        var targets = new List<int>();
        var paths = kind == ImageColumnKind.Path ? new List<string>() : null;
        using (var cursor = scored.GetRowCursor(columns))
        {
            var getScore = cursor.GetGetter<VBuffer<float>>(score);
            var getLabel = cursor.GetGetter<uint>(label);
            var getPath = paths is null ? null : cursor.GetGetter<ReadOnlyMemory<char>>(image!.Value);
            VBuffer<float> s = default;
            uint key = 0;
            ReadOnlyMemory<char> path = default;
            while (cursor.MoveNext())
            {
                getScore(ref s);
                getLabel(ref key);
                probabilities.Add(s.DenseValues().ToArray());
                targets.Add((int)key - 1);
                if (getPath is not null)
                {
                    getPath(ref path);
                    paths!.Add(path.ToString());
                }
            }
        }
        // Loaded images and bytes are not copied here: the pictures read the rows they show, when they are drawn.
        ImageSource? images = kind switch
        {
            ImageColumnKind.Path => new FileImages(paths!),
            ImageColumnKind k => new ColumnImages(new ImageColumn(scored, imageColumnName!, k, "data"), Enumerable.Range(0, targets.Count).ToList()),
            null => null,
        };
        return ClassificationInterpretation.FromProbabilities(classes, probabilities.ToArray(), targets.ToArray(), images);
    }
    /// <summary>The <c>Score</c> column, checked to be what multiclass classifiers output: one probability per class.</summary>
    private static DataViewSchema.Column ScoreColumn(DataViewSchema schema, string parameter, string name = "Score")
    {
        const string Hint = "interpretation needs a multiclass classifier (a trainer from mlContext.MulticlassClassification.Trainers)";
        var score = schema.GetColumnOrNull(name)
            ?? throw new ArgumentException($"The scored data has no '{name}' column; {Hint}.", parameter);
        if (score.Type is not VectorDataViewType { IsKnownSize: true, ItemType: var item } || item != NumberDataViewType.Single)
            throw new ArgumentException($"The '{name}' column holds {score.Type}, not a vector of class probabilities; {Hint}.", parameter);
        return score;
    }

    /// <summary>The class names a model's <c>Score</c> column carries as slot names.</summary>
    public static IReadOnlyList<string> ClassNames(DataViewSchema scoredSchema)
    {
        var score = ScoreColumn(scoredSchema, nameof(scoredSchema));
        if (!score.HasSlotNames()) throw new ArgumentException("The 'Score' column has no slot names to name the classes.", nameof(scoredSchema));
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        score.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToList();
    }
}
