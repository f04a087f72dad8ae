namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// Per-class precision, recall, F1 and support from a confusion matrix, with accuracy and the macro and
/// support-weighted averages: the rows of scikit-learn's <c>classification_report</c>, which fastai prints.
/// </summary>
internal static class ClassificationReport
{
    public readonly record struct Row(string Label, double Precision, double Recall, double F1, long Support);

    public static (IReadOnlyList<Row> Classes, double Accuracy, Row MacroAverage, Row WeightedAverage, long Total) Compute(
        IReadOnlyList<string> classNames, int[,] counts)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(counts);
        var n = classNames.Count;
        if (counts.GetLength(0) != n || counts.GetLength(1) != n)
            throw new ArgumentException(
                $"counts is {counts.GetLength(0)}×{counts.GetLength(1)} but there are {n} class names; it must be square, one row and column per class.",
                nameof(counts));
        var rows = new List<Row>(n);
        long total = 0, correct = 0;
        for (var c = 0; c < n; c++)
        {
            long actual = 0, predicted = 0;
            for (var k = 0; k < n; k++)
            {
                actual += counts[c, k];
                predicted += counts[k, c];
            }
            long hits = counts[c, c];
            var precision = predicted == 0 ? 0 : (double)hits / predicted;
            var recall = actual == 0 ? 0 : (double)hits / actual;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            rows.Add(new Row(classNames[c], precision, recall, f1, actual));
            total += actual;
            correct += hits;
        }
        var macro = new Row("macro avg", rows.Average(r => r.Precision), rows.Average(r => r.Recall), rows.Average(r => r.F1), total);
        var weighted = total == 0
            ? new Row("weighted avg", 0, 0, 0, 0)
            : new Row("weighted avg",
                rows.Sum(r => r.Precision * r.Support) / total,
                rows.Sum(r => r.Recall * r.Support) / total,
                rows.Sum(r => r.F1 * r.Support) / total,
                total);
        return (rows, total == 0 ? 0 : (double)correct / total, macro, weighted, total);
    }
}
