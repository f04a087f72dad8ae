using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Pipelines;

/// <summary>Finds labels the model cannot know: ML.NET maps them to the missing key, which the evaluator skips silently.</summary>
internal static class LabelCheck
{
    /// <summary>
    /// Fails, naming an image, when a label is not one of <paramref name="classes"/>, before any image is scored: ML.NET
    /// would map it to the missing key and its evaluator skip the row silently.
    /// </summary>
    public static void RefuseUnknown(IReadOnlyList<(string Path, string Label)> images, IReadOnlyList<string> classes, string model)
    {
        var known = classes.ToHashSet(StringComparer.Ordinal);
        var unknown = images.Where(i => !known.Contains(i.Label)).ToList();
        if (unknown.Count == 0) return;
        var labels = unknown.Select(i => i.Label).Distinct(StringComparer.Ordinal).ToList();
        throw new InvalidDataException(
            $"{unknown.Count} image(s) have labels {model} does not know: {string.Join(", ", labels.Take(10).Select(l => $"'{l}'"))}" +
            $"{(labels.Count > 10 ? ", ..." : "")} (first: '{unknown[0].Path}'). The model's classes are: {string.Join(", ", classes)}." +
            (unknown.Count == images.Count ? " Is the data a folder whose subfolders are the classes (e.g. mnist_sample/testing)?" : ""));
    }

    public static void EnsureAllKnown(IDataView data, string labelColumnName, IReadOnlyList<string> classes)
    {
        var column = data.Schema.GetColumnOrNull(labelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(labelColumnName), labelColumnName, $"The data has no label column '{labelColumnName}'.");
        if (column.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(labelColumnName), labelColumnName,
                $"Label column '{labelColumnName}' has type {column.Type}; map it with the same fitted MapValueToKey as the training data.");
        if (key.Count != (ulong)classes.Count)
            throw new InvalidDataException($"Label column '{labelColumnName}' has {key.Count} keys but the model has {classes.Count} classes; transform the data with the pipeline the model was trained in.");
        using var cursor = data.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<uint>(column);
        uint value = 0;
        long row = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            if (value == 0)
                throw new InvalidDataException($"Row {row}: its '{labelColumnName}' is not one of the model's classes [{string.Join(", ", classes)}] (an unseen or empty label). The stock evaluator would skip it silently; fix or remove the row.");
            row++;
        }
    }
}
