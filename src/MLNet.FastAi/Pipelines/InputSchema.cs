using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Pipelines;

/// <summary>The column checks of <see cref="FastAiCnnEstimator"/>, with messages that name the column and the fix.</summary>
internal static class InputSchema
{
    /// <summary>The form of the image column, refused with its name and type when it is none of the three.</summary>
    public static ImageColumnKind CheckImageColumn(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no image column '{name}' (columns: {Names(schema)}). Set FeatureColumnName.");
        return ImageColumnKinds.Of(column.Type)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: image column '{name}' has type {column.Type}; it must hold {ImageColumnKinds.Accepted}.");
    }

    public static void CheckImageColumn(SchemaShape schema, string name)
    {
        var column = schema.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no image column '{name}'. Set FeatureColumnName.");
        bool scalarImage = column.Kind == SchemaShape.Column.VectorKind.Scalar && column.ItemType is TextDataViewType or ImageDataViewType;
        bool bytes = column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType == NumberDataViewType.Byte;
        if (!scalarImage && !bytes)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: image column '{name}' has type {column.ItemType}; it must hold {ImageColumnKinds.Accepted}.");
    }

    /// <summary>Checks the label column and returns its class names (the key values, in key order).</summary>
    public static IReadOnlyList<string> CheckLabelColumn(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no label column '{name}' (columns: {Names(schema)}). Set LabelColumnName.");
        if (column.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"FastAiCnn: label column '{name}' has type {column.Type}; it must be a key type. Add mlContext.Transforms.Conversion.MapValueToKey(\"{name}\") before the trainer.");
        var keyValues = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (keyValues is null || keyValues.Value.Type is not VectorDataViewType { ItemType: TextDataViewType })
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"FastAiCnn: label column '{name}' is a key without text key values; map text labels with MapValueToKey so the model can name its classes.");
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetKeyValues(ref values);
        var classes = values.DenseValues().Select(v => v.ToString()).ToList();
        if (classes.Count < 2)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: label column '{name}' has {classes.Count} class(es); a classifier needs at least two.");
        if ((ulong)classes.Count != key.Count)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: label column '{name}' has {key.Count} keys but {classes.Count} key values.");
        return classes;
    }

    public static void CheckLabelColumn(SchemaShape schema, string name)
    {
        var column = schema.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no label column '{name}'. Set LabelColumnName.");
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || !column.IsKey)
            throw new ArgumentOutOfRangeException(nameof(name), name,
                $"FastAiCnn: label column '{name}' must be a scalar key type. Add mlContext.Transforms.Conversion.MapValueToKey(\"{name}\") before the trainer.");
    }

    /// <summary>
    /// Checks that the validation data matches the training data: the same image column form and the same label keys
    /// (both transformed by one fitted MapValueToKey).
    /// </summary>
    public static void CheckValidationData(DataViewSchema validation, string imageColumn, ImageColumnKind trainingKind, string labelColumn, IReadOnlyList<string> classes)
    {
        var kind = CheckImageColumn(validation, imageColumn);
        if (kind != trainingKind)
            throw new ArgumentException($"FastAiCnn: the validation data's image column '{imageColumn}' holds {kind.Describe()}, the training data's {trainingKind.Describe()}; give both in the same form.");
        var validClasses = CheckLabelColumn(validation, labelColumn);
        if (!validClasses.SequenceEqual(classes))
            throw new ArgumentException($"FastAiCnn: the validation set's label keys [{string.Join(", ", validClasses)}] differ from the training data's [{string.Join(", ", classes)}]; transform both with the same fitted MapValueToKey.");
    }

    private static string Names(DataViewSchema schema) => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name));
}
