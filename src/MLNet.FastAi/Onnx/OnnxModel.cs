namespace MLNet.FastAi.Onnx;

/// <summary>ONNX tensor element types (the <c>TensorProto.DataType</c> enum of onnx.proto).</summary>
internal enum OnnxDataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
}

/// <summary>ONNX attribute kinds (the <c>AttributeProto.AttributeType</c> enum).</summary>
internal enum OnnxAttributeType
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
}

/// <summary>A constant tensor (an initializer or a tensor attribute). Data is held decoded, in row-major order.</summary>
internal sealed class OnnxTensor
{
    public string Name { get; set; } = "";
    public long[] Dims { get; set; } = Array.Empty<long>();
    public OnnxDataType DataType { get; set; } = OnnxDataType.Float;
    public float[]? Floats { get; set; }
    public long[]? Int64s { get; set; }
    public int[]? Int32s { get; set; }
    public string[]? Strings { get; set; }

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public static OnnxTensor FromFloats(string name, float[] data, params long[] dims) =>
        new() { Name = name, Dims = dims, DataType = OnnxDataType.Float, Floats = data };

    public static OnnxTensor FromInt64s(string name, long[] data, params long[] dims) =>
        new() { Name = name, Dims = dims, DataType = OnnxDataType.Int64, Int64s = data };

    public static OnnxTensor FromStrings(string name, string[] data, params long[] dims) =>
        new() { Name = name, Dims = dims, DataType = OnnxDataType.String, Strings = data };
}

/// <summary>One attribute of a node.</summary>
internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public OnnxAttributeType Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public string S { get; set; } = "";
    public OnnxTensor? T { get; set; }
    public float[] Floats { get; set; } = Array.Empty<float>();
    public long[] Ints { get; set; } = Array.Empty<long>();
    public string[] Strings { get; set; } = Array.Empty<string>();

    public static OnnxAttribute Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };
    public static OnnxAttribute Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };
    public static OnnxAttribute String(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, S = value };
    public static OnnxAttribute IntList(string name, params long[] values) => new() { Name = name, Type = OnnxAttributeType.Ints, Ints = values };
    public static OnnxAttribute FloatList(string name, params float[] values) => new() { Name = name, Type = OnnxAttributeType.Floats, Floats = values };
    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new() { Name = name, Type = OnnxAttributeType.Tensor, T = value };
}

/// <summary>One operator application.</summary>
internal sealed class OnnxNode
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = new();
    public List<string> Outputs { get; } = new();
    public List<OnnxAttribute> Attributes { get; } = new();

    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);
}

/// <summary>A graph input or output: a name, an element type and a shape whose unknown dimensions are named.</summary>
internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public OnnxDataType ElementType { get; set; } = OnnxDataType.Float;

    /// <summary>Dimensions; null entries are symbolic (see <see cref="SymbolicDims"/>).</summary>
    public long?[] Shape { get; set; } = Array.Empty<long?>();

    /// <summary>Names of symbolic dimensions, parallel to <see cref="Shape"/> (e.g. "batch").</summary>
    public string?[] SymbolicDims { get; set; } = Array.Empty<string?>();
}

/// <summary>A computation graph: nodes in topological order and the constants they use.</summary>
internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = new();
    public List<OnnxTensor> Initializers { get; } = new();
    public List<OnnxValueInfo> Inputs { get; } = new();
    public List<OnnxValueInfo> Outputs { get; } = new();
}

/// <summary>An ONNX model: the graph plus the operator-set versions it is written against.</summary>
internal sealed class OnnxModel
{
    public long IrVersion { get; set; } = 7;
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public Dictionary<string, long> OperatorSets { get; } = new();
    public Dictionary<string, string> Metadata { get; } = new();
    public OnnxGraph Graph { get; set; } = new();
}
