using MLNet.FastAi.Internal;
using MLNet.FastAi.Internal.Protobuf;

namespace MLNet.FastAi.Onnx;

/// <summary>
/// Serializes <see cref="OnnxModel"/> to onnx.proto's <c>ModelProto</c>. Field numbers checked against
/// onnx/onnx <c>onnx/onnx.proto3</c>: ModelProto ir_version=1, producer_name=2, producer_version=3, graph=7,
/// opset_import=8, metadata_props=14; OperatorSetIdProto domain=1, version=2; StringStringEntryProto key=1,
/// value=2; GraphProto node=1, name=2, initializer=5, input=11, output=12; NodeProto input=1, output=2, name=3,
/// op_type=4, attribute=5, domain=7; AttributeProto name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, strings=9,
/// type=20; TensorProto dims=1, data_type=2, string_data=6, name=8, raw_data=9; ValueInfoProto name=1, type=2;
/// TypeProto tensor_type=1; TypeProto.Tensor elem_type=1, shape=2; TensorShapeProto dim=1;
/// Dimension dim_value=1, dim_param=2.
/// </summary>
/// <remarks>Numeric tensors are stored as little-endian <c>raw_data</c>, the compact form exporters use.</remarks>
internal static class OnnxModelWriter
{
    public static byte[] Write(OnnxModel model)
    {
        var w = new ProtoWriter(EstimateSize(model));
        WriteModel(w, model);
        return w.ToArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically (beside it first, then moved over it).</summary>
    public static void Write(OnnxModel model, string path)
    {
        var w = new ProtoWriter(EstimateSize(model));
        WriteModel(w, model);
        AtomicFile.Write(path, w.CopyTo, durable: true);
    }

    private static void WriteModel(ProtoWriter w, OnnxModel model)
    {
        if (model.OperatorSets.Count == 0)
            throw new InvalidOperationException("The ONNX model imports no operator set; ONNX requires at least one (the default domain \"\" for standard operators).");
        w.WriteInt64(1, model.IrVersion);
        if (model.ProducerName.Length > 0) w.WriteString(2, model.ProducerName);
        if (model.ProducerVersion.Length > 0) w.WriteString(3, model.ProducerVersion);
        var graph = w.BeginMessage(7);
        WriteGraph(w, model.Graph);
        w.EndMessage(graph);
        foreach (var (domain, version) in model.OperatorSets)
        {
            var opset = w.BeginMessage(8);
            if (domain.Length > 0) w.WriteString(1, domain);
            w.WriteInt64(2, version);
            w.EndMessage(opset);
        }
        foreach (var (key, value) in model.Metadata)
        {
            var entry = w.BeginMessage(14);
            w.WriteString(1, key);
            w.WriteString(2, value);
            w.EndMessage(entry);
        }
    }

    private static void WriteGraph(ProtoWriter w, OnnxGraph graph)
    {
        foreach (var node in graph.Nodes)
        {
            var n = w.BeginMessage(1);
            WriteNode(w, node);
            w.EndMessage(n);
        }
        if (graph.Name.Length > 0) w.WriteString(2, graph.Name);
        foreach (var tensor in graph.Initializers)
        {
            var t = w.BeginMessage(5);
            WriteTensor(w, tensor);
            w.EndMessage(t);
        }
        foreach (var input in graph.Inputs) WriteValueInfo(w, 11, input);
        foreach (var output in graph.Outputs) WriteValueInfo(w, 12, output);
    }

    private static void WriteNode(ProtoWriter w, OnnxNode node)
    {
        if (node.OpType.Length == 0) throw new InvalidOperationException($"ONNX node '{node.Name}' has no operator type.");
        foreach (string input in node.Inputs) w.WriteString(1, input);
        foreach (string output in node.Outputs) w.WriteString(2, output);
        if (node.Name.Length > 0) w.WriteString(3, node.Name);
        w.WriteString(4, node.OpType);
        foreach (var attribute in node.Attributes)
        {
            var a = w.BeginMessage(5);
            WriteAttribute(w, attribute, node);
            w.EndMessage(a);
        }
        if (node.Domain.Length > 0) w.WriteString(7, node.Domain);
    }

    private static void WriteAttribute(ProtoWriter w, OnnxAttribute a, OnnxNode node)
    {
        w.WriteString(1, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloat(2, a.F); break;
            case OnnxAttributeType.Int: w.WriteInt64(3, a.I); break;
            case OnnxAttributeType.String: w.WriteString(4, a.S); break;
            case OnnxAttributeType.Tensor:
            {
                if (a.T is null) throw new InvalidOperationException($"ONNX node '{node.Name}' ({node.OpType}): tensor attribute '{a.Name}' has no tensor.");
                var t = w.BeginMessage(5);
                WriteTensor(w, a.T);
                w.EndMessage(t);
                break;
            }
            case OnnxAttributeType.Floats: w.WritePackedFloats(7, a.Floats); break;
            case OnnxAttributeType.Ints: w.WritePackedInt64s(8, a.Ints); break;
            case OnnxAttributeType.Strings:
                foreach (string s in a.Strings) w.WriteString(9, s);
                break;
            default:
                throw new NotSupportedException($"ONNX node '{node.Name}' ({node.OpType}): attribute '{a.Name}' has type {a.Type}, which this writer does not write.");
        }
        w.WriteInt32(20, (int)a.Type);
    }

    private static void WriteTensor(ProtoWriter w, OnnxTensor t)
    {
        long count = t.ElementCount;
        w.WritePackedInt64s(1, t.Dims);
        w.WriteInt32(2, (int)t.DataType);
        switch (t.DataType)
        {
            case OnnxDataType.String:
            {
                var strings = Require(t.Strings, t, count);
                foreach (string s in strings) w.WriteString(6, s);
                WriteName(w, t);
                break;
            }
            case OnnxDataType.Float:
                WriteName(w, t);
                w.WritePackedFloats(9, Require(t.Floats, t, count));
                break;
            case OnnxDataType.Int64:
                WriteName(w, t);
                w.WriteRawInt64s(9, Require(t.Int64s, t, count));
                break;
            case OnnxDataType.Int32:
                WriteName(w, t);
                w.WriteRawInt32s(9, Require(t.Int32s, t, count));
                break;
            default:
                throw new NotSupportedException($"ONNX tensor '{t.Name}' has element type {t.DataType}; this writer writes FLOAT, INT64, INT32 and STRING tensors.");
        }
    }

    private static void WriteName(ProtoWriter w, OnnxTensor t)
    {
        if (t.Name.Length > 0) w.WriteString(8, t.Name);
    }

    private static T[] Require<T>(T[]? data, OnnxTensor t, long count)
    {
        if (data is null)
            throw new InvalidOperationException($"ONNX tensor '{t.Name}' of type {t.DataType} has no {t.DataType} data.");
        if (data.Length != count)
            throw new InvalidOperationException($"ONNX tensor '{t.Name}' has {data.Length} values but its shape [{string.Join(", ", t.Dims)}] needs {count}.");
        return data;
    }

    private static void WriteValueInfo(ProtoWriter w, int field, OnnxValueInfo info)
    {
        if (info.Name.Length == 0) throw new InvalidOperationException("An ONNX graph input or output has no name.");
        if (info.SymbolicDims.Length != 0 && info.SymbolicDims.Length != info.Shape.Length)
            throw new InvalidOperationException($"ONNX value '{info.Name}' has {info.Shape.Length} dimensions but {info.SymbolicDims.Length} dimension names.");
        var valueInfo = w.BeginMessage(field);
        w.WriteString(1, info.Name);
        var type = w.BeginMessage(2);
        var tensorType = w.BeginMessage(1);
        w.WriteInt32(1, (int)info.ElementType);
        var shape = w.BeginMessage(2);
        for (int i = 0; i < info.Shape.Length; i++)
        {
            var dim = w.BeginMessage(1);
            string? param = info.SymbolicDims.Length > 0 ? info.SymbolicDims[i] : null;
            if (info.Shape[i] is long value) w.WriteInt64(1, value);
            else if (!string.IsNullOrEmpty(param)) w.WriteString(2, param);
            w.EndMessage(dim);
        }
        w.EndMessage(shape);
        w.EndMessage(tensorType);
        w.EndMessage(type);
        w.EndMessage(valueInfo);
    }

    private static int EstimateSize(OnnxModel model)
    {
        long bytes = 4096;
        foreach (var t in model.Graph.Initializers)
            bytes += 64 + (t.Floats?.LongLength ?? 0) * 4 + (t.Int64s?.LongLength ?? 0) * 8 + (t.Int32s?.LongLength ?? 0) * 4;
        return (int)Math.Min(bytes, Array.MaxLength);
    }
}
