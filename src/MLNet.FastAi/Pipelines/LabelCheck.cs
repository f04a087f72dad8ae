using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Pipelines;

/// <summary>Finds labels the model cannot know: ML.NET maps them to the missing key, which the evaluator skips silently.</summary>
internal static class LabelCheck
{
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
