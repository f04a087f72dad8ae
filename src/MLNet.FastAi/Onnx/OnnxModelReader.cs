using System.Buffers.Binary;
using MLNet.FastAi.Internal.Protobuf;

namespace MLNet.FastAi.Onnx;

/// <summary>Reads ONNX model files (onnx.proto's <c>ModelProto</c>) into <see cref="OnnxModel"/>.</summary>
internal static class OnnxModelReader
{
    public static OnnxModel Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' not found.", path);
        return Read(File.ReadAllBytes(path), $"ONNX model '{path}'");
    }

    public static OnnxModel Read(ReadOnlySpan<byte> bytes, string what)
    {
        var model = new OnnxModel();
        var r = new ProtoReader(bytes, what);
        bool sawGraph = false;
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: model.IrVersion = r.ReadInt64(); break;
                case 2: model.ProducerName = r.ReadString(); break;
                case 3: model.ProducerVersion = r.ReadString(); break;
                case 7: model.Graph = ReadGraph(r.ReadBytes(), what); sawGraph = true; break;
                case 8:
                {
                    var (domain, version) = ReadOpset(r.ReadBytes(), what);
                    model.OperatorSets[domain] = version;
                    break;
                }
                case 14:
                {
                    var (key, value) = ReadStringPair(r.ReadBytes(), what);
                    model.Metadata[key] = value;
                    break;
                }
                default: r.Skip(wire); break;
            }
        }
        if (!sawGraph) throw new InvalidDataException($"{what} has no graph; it is not an ONNX model.");
        return model;
    }

    private static OnnxGraph ReadGraph(ReadOnlySpan<byte> bytes, string what)
    {
        var graph = new OnnxGraph();
        var r = new ProtoReader(bytes, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: graph.Nodes.Add(ReadNode(r.ReadBytes(), what)); break;
                case 2: graph.Name = r.ReadString(); break;
                case 5: graph.Initializers.Add(ReadTensor(r.ReadBytes(), what)); break;
                case 11: graph.Inputs.Add(ReadValueInfo(r.ReadBytes(), what)); break;
                case 12: graph.Outputs.Add(ReadValueInfo(r.ReadBytes(), what)); break;
                default: r.Skip(wire); break;
            }
        }
        return graph;
    }

    private static OnnxNode ReadNode(ReadOnlySpan<byte> bytes, string what)
    {
        var node = new OnnxNode();
        var r = new ProtoReader(bytes, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: node.Inputs.Add(r.ReadString()); break;
                case 2: node.Outputs.Add(r.ReadString()); break;
                case 3: node.Name = r.ReadString(); break;
                case 4: node.OpType = r.ReadString(); break;
                case 5: node.Attributes.Add(ReadAttribute(r.ReadBytes(), what)); break;
                case 7: node.Domain = r.ReadString(); break;
                default: r.Skip(wire); break;
            }
        }
        return node;
    }

    private static OnnxAttribute ReadAttribute(ReadOnlySpan<byte> bytes, string what)
    {
        var a = new OnnxAttribute();
        var r = new ProtoReader(bytes, what);
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: a.Name = r.ReadString(); break;
                case 2: a.F = r.ReadFloat(); break;
                case 3: a.I = r.ReadInt64(); break;
                case 4: a.S = r.ReadString(); break;
                case 5: a.T = ReadTensor(r.ReadBytes(), what); break;
                case 7: r.ReadRepeatedFloat(wire, floats); break;
                case 8: r.ReadRepeatedInt64(wire, ints); break;
                case 9: strings.Add(r.ReadString()); break;
                case 20: a.Type = (OnnxAttributeType)r.ReadInt32(); break;
                default: r.Skip(wire); break;
            }
        }
        a.Floats = floats.ToArray();
        a.Ints = ints.ToArray();
        a.Strings = strings.ToArray();
        return a;
    }

    internal static OnnxTensor ReadTensor(ReadOnlySpan<byte> bytes, string what)
    {
        var t = new OnnxTensor();
        var r = new ProtoReader(bytes, what);
        var dims = new List<long>();
        var floats = new List<float>();
        var int64s = new List<long>();
        var int32s = new List<long>();
        var strings = new List<string>();
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false;
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: r.ReadRepeatedInt64(wire, dims); break;
                case 2: t.DataType = (OnnxDataType)r.ReadInt32(); break;
                case 4: r.ReadRepeatedFloat(wire, floats); break;
                case 5: r.ReadRepeatedInt64(wire, int32s); break;
                case 6: strings.Add(r.ReadString()); break;
                case 7: r.ReadRepeatedInt64(wire, int64s); break;
                case 8: t.Name = r.ReadString(); break;
                case 9: raw = r.ReadBytes(); hasRaw = true; break;
                case 14:
                    if (r.ReadInt32() != 0)
                        throw new NotSupportedException($"{what}: tensor stores its data in an external file, which is not supported.");
                    break;
                default: r.Skip(wire); break;
            }
        }
        t.Dims = dims.ToArray();
        long count = t.ElementCount;
        switch (t.DataType)
        {
            case OnnxDataType.Float:
                t.Floats = hasRaw ? DecodeFloats(raw, count, t.Name, what) : floats.ToArray();
                break;
            case OnnxDataType.Int64:
                t.Int64s = hasRaw ? DecodeInt64s(raw, count, t.Name, what) : int64s.ToArray();
                break;
            case OnnxDataType.Int32:
                t.Int32s = hasRaw ? DecodeInt32s(raw, count, t.Name, what) : int32s.Select(v => (int)v).ToArray();
                break;
            case OnnxDataType.String:
                t.Strings = strings.ToArray();
                break;
        }
        return t;
    }

    private static float[] DecodeFloats(ReadOnlySpan<byte> raw, long count, string name, string what)
    {
        CheckRawLength(raw, count, 4, name, what);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
        return values;
    }

    private static long[] DecodeInt64s(ReadOnlySpan<byte> raw, long count, string name, string what)
    {
        CheckRawLength(raw, count, 8, name, what);
        var values = new long[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]);
        return values;
    }

    private static int[] DecodeInt32s(ReadOnlySpan<byte> raw, long count, string name, string what)
    {
        CheckRawLength(raw, count, 4, name, what);
        var values = new int[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]);
        return values;
    }

    private static void CheckRawLength(ReadOnlySpan<byte> raw, long count, int width, string name, string what)
    {
        if (raw.Length != count * width)
            throw new InvalidDataException($"{what}: tensor '{name}' holds {raw.Length} bytes but its shape needs {count * width}.");
    }

    private static OnnxValueInfo ReadValueInfo(ReadOnlySpan<byte> bytes, string what)
    {
        var info = new OnnxValueInfo();
        var r = new ProtoReader(bytes, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1) info.Name = r.ReadString();
            else if (field == 2) ReadTensorType(r.ReadBytes(), info, what);
            else r.Skip(wire);
        }
        return info;
    }

    private static void ReadTensorType(ReadOnlySpan<byte> typeProto, OnnxValueInfo info, string what)
    {
        var r = new ProtoReader(typeProto, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1) { r.Skip(wire); continue; }
            var tensorType = new ProtoReader(r.ReadBytes(), what);
            while (tensorType.TryReadTag(out int tf, out var tw))
            {
                if (tf == 1) info.ElementType = (OnnxDataType)tensorType.ReadInt32();
                else if (tf == 2) ReadShape(tensorType.ReadBytes(), info, what);
                else tensorType.Skip(tw);
            }
        }
    }

    private static void ReadShape(ReadOnlySpan<byte> shapeProto, OnnxValueInfo info, string what)
    {
        var dims = new List<long?>();
        var names = new List<string?>();
        var r = new ProtoReader(shapeProto, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1) { r.Skip(wire); continue; }
            long? value = null;
            string? param = null;
            var dim = new ProtoReader(r.ReadBytes(), what);
            while (dim.TryReadTag(out int df, out var dw))
            {
                if (df == 1) value = dim.ReadInt64();
                else if (df == 2) param = dim.ReadString();
                else dim.Skip(dw);
            }
            dims.Add(value);
            names.Add(param);
        }
        info.Shape = dims.ToArray();
        info.SymbolicDims = names.ToArray();
    }

    private static (string Domain, long Version) ReadOpset(ReadOnlySpan<byte> bytes, string what)
    {
        string domain = "";
        long version = 0;
        var r = new ProtoReader(bytes, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1) domain = r.ReadString();
            else if (field == 2) version = r.ReadInt64();
            else r.Skip(wire);
        }
        return (domain, version);
    }

    private static (string Key, string Value) ReadStringPair(ReadOnlySpan<byte> bytes, string what)
    {
        string key = "", value = "";
        var r = new ProtoReader(bytes, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1) key = r.ReadString();
            else if (field == 2) value = r.ReadString();
            else r.Skip(wire);
        }
        return (key, value);
    }
}
