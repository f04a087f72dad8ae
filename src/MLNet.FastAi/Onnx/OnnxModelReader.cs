using Google.Protobuf;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>
/// Reads ONNX model files into <see cref="ModelProto"/>, refusing what this package cannot use: a file that is not a
/// protocol-buffers message or has no graph, tensors whose data lives in an external file, and tensors whose data
/// does not fit their shape. Errors name the file.
/// </summary>
internal static class OnnxModelReader
{
    public static ModelProto Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' not found.", path);
        return Read(File.ReadAllBytes(path), $"ONNX model '{path}'");
    }

    public static ModelProto Read(ReadOnlySpan<byte> bytes, string what)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{what} is not a valid protocol-buffers message ({e.Message}); the file may be truncated or of another kind.", e);
        }
        var graph = model.Graph ?? throw new InvalidDataException($"{what} has no graph; it is not an ONNX model.");
        var attributeTensors = graph.Node.SelectMany(n => n.Attribute).SelectMany(a => a.Tensors.Prepend(a.T)).OfType<TensorProto>();
        foreach (var tensor in graph.Initializer.Concat(attributeTensors))
        {
            if (OnnxTensor.DataProblem(tensor) is not { } problem) continue;
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
                throw new NotSupportedException($"{what}: {problem}.");
            throw new InvalidDataException($"{what}: {problem}.");
        }
        return model;
    }

    /// <summary>The dimensions of a graph input or output: a number, or null where the dimension is symbolic or unset.</summary>
    public static long?[] Shape(ValueInfoProto value) =>
        value.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : (long?)null).ToArray() ?? [];

    /// <summary>A graph input's or output's element type and shape as text, e.g. "Float [batch, 3, 28, 28]".</summary>
    public static string Describe(ValueInfoProto value)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        }) ?? [];
        return $"{value.Type?.TensorType?.ElemType ?? OnnxDataType.Undefined} [{string.Join(", ", dims)}]";
    }
}
