using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.FastAi.Pipelines;

/// <summary>The column checks of <see cref="FastAiCnnEstimator"/>, with messages that name the column and the fix.</summary>
internal static class InputSchema
{
    public static void CheckImageColumn(DataViewSchema schema, string name, bool allowLoadedImages)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no image column '{name}' (columns: {Names(schema)}). Set ImageColumnName.");
        if (column.Type is TextDataViewType) return;
        if (allowLoadedImages && column.Type is ImageDataViewType) return;
        throw new ArgumentOutOfRangeException(nameof(name), name,
            $"FastAiCnn: image column '{name}' has type {column.Type}; it must hold image file paths (text){(allowLoadedImages ? " or loaded images" : "")}.");
    }

    public static void CheckImageColumn(SchemaShape schema, string name)
    {
        var column = schema.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: the input has no image column '{name}'. Set ImageColumnName.");
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not (TextDataViewType or ImageDataViewType))
            throw new ArgumentOutOfRangeException(nameof(name), name, $"FastAiCnn: image column '{name}' has type {column.ItemType}; it must hold image file paths (text) or loaded images.");
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

    private static string Names(DataViewSchema schema) => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name));
}
