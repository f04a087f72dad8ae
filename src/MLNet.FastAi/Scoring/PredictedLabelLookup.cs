using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Scoring;

/// <summary>
/// The stock ML.NET component that turns the exported graph's one-hot prediction into ML.NET's <c>PredictedLabel</c>:
/// a UInt32 key column whose key values are the class names, as every ML.NET multiclass trainer outputs.
/// </summary>
/// <remarks>
/// <para>
/// Why a trainer: a key column must be a scalar, and ML.NET's OnnxTransformer cannot read rank-0 ONNX outputs (its
/// getter for non-vector outputs fails on tensors), while no stock transform turns a one-slot vector into a scalar.
/// Multiclass prediction transformers are the stock components that map a feature vector to a scalar key.
/// </para>
/// <para>
/// Why naive Bayes: trained on the K one-hot basis vectors (row k = e_k, label k) it is an exact, closed-form lookup
/// rather than a fit. With one row per class and ML.NET's add-one smoothing, on input e_k every class shares the same
/// prior and absent-feature terms, and class k gains ln 2 where every other class loses ln 2: the winning margin is
/// 2 ln 2 whatever K is, with no optimizer involved. <see cref="Fit"/> still checks every basis vector.
/// </para>
/// </remarks>
internal static class PredictedLabelLookup
{
    private const string LabelColumn = "Label";

    /// <summary>
    /// A multiclass prediction transformer reading a one-hot FLOAT vector of <paramref name="classNames"/>.Count slots
    /// from <paramref name="oneHotColumn"/> and writing <c>PredictedLabel</c> (key values: the class names, in order)
    /// and a <c>Score</c> column that callers replace with the network's probabilities.
    /// </summary>
    public static ITransformer Fit(MLContext context, IReadOnlyList<string> classNames, string oneHotColumn)
    {
        int count = classNames.Count;
        var rows = classNames.Select((name, k) => new BasisRow { Label = name, OneHot = Basis(k, count) }).ToArray();
        var definition = SchemaDefinition.Create(typeof(BasisRow));
        definition[nameof(BasisRow.OneHot)].ColumnName = oneHotColumn;
        definition[oneHotColumn].ColumnType = new VectorDataViewType(NumberDataViewType.Single, count);
        var basis = context.Data.LoadFromEnumerable(rows, definition);

        // Keys in the given order (keyData order, ByOccurrence), not sorted: key k+1 is class k.
        var classList = context.Data.LoadFromEnumerable(classNames.Select(name => new ClassName { Value = name }).ToArray());
        var keyed = context.Transforms.Conversion.MapValueToKey(LabelColumn, LabelColumn, keyData: classList).Fit(basis).Transform(basis);
        var lookup = context.MulticlassClassification.Trainers.NaiveBayes(LabelColumn, oneHotColumn).Fit(keyed);

        uint[] predicted = lookup.Transform(keyed).GetColumn<uint>(StockScoringChain.PredictedLabelColumn).ToArray();
        for (int k = 0; k < count; k++)
            if (predicted[k] != k + 1)
                throw new InvalidOperationException($"ML.NET's naive Bayes lookup maps class '{classNames[k]}' to key {predicted[k]} instead of {k + 1}; this ML.NET version behaves differently from the one this package was built against.");
        return lookup;
    }

    private static float[] Basis(int index, int count)
    {
        var vector = new float[count];
        vector[index] = 1f;
        return vector;
    }

    private sealed class BasisRow
    {
        public string Label { get; set; } = "";

        public float[] OneHot { get; set; } = Array.Empty<float>();
    }

    private sealed class ClassName
    {
        public string Value { get; set; } = "";
    }
}
