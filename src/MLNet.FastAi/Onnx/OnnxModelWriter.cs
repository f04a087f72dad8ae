using Google.Protobuf;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>
/// Serializes an ONNX <see cref="ModelProto"/> after checking what ONNX Runtime would otherwise reject later and less
/// clearly: an operator set is imported, every node has an operator type, every tensor's data fits its shape and is
/// of a type this package writes, every graph input and output is named.
/// </summary>
internal static class OnnxModelWriter
{
    public static byte[] Write(ModelProto model)
    {
        Validate(model);
        return model.ToByteArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically (beside it first, then moved over it).</summary>
    public static void Write(ModelProto model, string path)
    {
        Validate(model);
        AtomicFile.Write(path, model.WriteTo, durable: true);
    }

    private static void Validate(ModelProto model)
    {
        if (model.OpsetImport.Count == 0)
            throw new InvalidOperationException("The ONNX model imports no operator set; ONNX requires at least one (the default domain \"\" for standard operators).");
        var graph = model.Graph ?? throw new InvalidOperationException("The ONNX model has no graph.");
        foreach (var tensor in graph.Initializer) CheckTensor(tensor);
        foreach (var node in graph.Node)
        {
            if (node.OpType.Length == 0) throw new InvalidOperationException($"ONNX node '{node.Name}' has no operator type.");
            foreach (var attribute in node.Attribute.Where(a => a.Type == OnnxAttributeType.Tensor))
                CheckTensor(attribute.T ?? throw new InvalidOperationException($"ONNX node '{node.Name}' ({node.OpType}): tensor attribute '{attribute.Name}' has no tensor."));
        }
        if (graph.Input.Concat(graph.Output).Any(v => v.Name.Length == 0))
            throw new InvalidOperationException("An ONNX graph input or output has no name.");
    }

    private static void CheckTensor(TensorProto tensor)
    {
        if (!OnnxTensor.IsWritable(tensor.DataType))
            throw new NotSupportedException($"ONNX tensor '{tensor.Name}' has element type {tensor.DataType}; this writer writes FLOAT, INT64, INT32, INT8, UINT8 and STRING tensors.");
        if (OnnxTensor.DataProblem(tensor) is { } problem)
            throw new InvalidOperationException($"ONNX {problem}.");
    }
}
