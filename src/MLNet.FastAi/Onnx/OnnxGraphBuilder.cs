using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic name such as "batch".</summary>
internal readonly record struct OnnxDim(long? Value, string? Name)
{
    public static implicit operator OnnxDim(long value) => new(value, null);

    public static implicit operator OnnxDim(int value) => new(value, null);

    public static implicit operator OnnxDim(string name) => new(null, name);
}

/// <summary>
/// Builds an ONNX graph (standard domain, opset <see cref="OpsetVersion"/>, IR version <see cref="IrVersion"/>)
/// with unique value and node names. Each node method returns the name of its output, to feed into the next.
/// </summary>
/// <remarks>
/// Convenience methods cover what an image-classifier export needs; <see cref="AddNode"/> adds anything else.
/// Methods that take weights as arrays store them as initializers, named after <c>name</c> when one is given
/// (for example <c>layer1.0.conv1.weight</c>), which keeps exported graphs readable next to the PyTorch model.
/// </remarks>
internal sealed partial class OnnxGraphBuilder
{
    public const int OpsetVersion = 13;
    public const long IrVersion = 7;

    /// <summary>The ONNX-ML operator domain (LabelEncoder and other classical-ML operators).</summary>
    public const string MLDomain = "ai.onnx.ml";

    /// <summary>The ONNX-ML operator-set version imported when a graph uses <see cref="MLDomain"/> (2 introduced LabelEncoder's typed keys and values).</summary>
    public const int MLOpsetVersion = 2;

    private readonly GraphProto _graph;
    // ONNX keeps node names and value names (inputs, initializers, node outputs) in separate namespaces.
    private readonly NameSet _valueNames = new();
    private readonly NameSet _nodeNames = new();

    public OnnxGraphBuilder(string graphName = "main")
    {
        _graph = new GraphProto { Name = graphName };
    }

    /// <summary>The graph built so far.</summary>
    public GraphProto Graph => _graph;

    /// <summary>
    /// A model holding the graph, importing the standard operator set at <see cref="OpsetVersion"/>, and the ONNX-ML
    /// set at <see cref="MLOpsetVersion"/> when a node uses it.
    /// </summary>
    public ModelProto BuildModel(string producerName = "MLNet.FastAi", string producerVersion = "")
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        if (_graph.Node.Any(n => n.Domain == MLDomain)) model.OpsetImport.Add(new OperatorSetIdProto { Domain = MLDomain, Version = MLOpsetVersion });
        return model;
    }

    /// <summary>Declares a graph input; its name is taken as given and must be unused.</summary>
    public string AddInput(string name, OnnxDataType elementType, params OnnxDim[] shape)
    {
        Claim(name);
        _graph.Input.Add(ValueInfo(name, elementType, shape));
        return name;
    }

    /// <summary>Declares an existing value (an input, a node output or an initializer) as a graph output.</summary>
    public string AddOutput(string valueName, OnnxDataType elementType, params OnnxDim[] shape)
    {
        if (!_valueNames.Contains(valueName))
            throw new InvalidOperationException($"ONNX graph '{_graph.Name}': output '{valueName}' is not a value of the graph.");
        if (_graph.Output.Any(o => o.Name == valueName))
            throw new InvalidOperationException($"ONNX graph '{_graph.Name}': '{valueName}' is already an output.");
        _graph.Output.Add(ValueInfo(valueName, elementType, shape));
        return valueName;
    }

    /// <summary>Reserves a unique value name starting with <paramref name="hint"/>: the hint itself when free, else hint_1, hint_2, ...</summary>
    public string UniqueName(string hint) => _valueNames.Reserve(hint);

    public string AddInitializer(float[] data, long[] dims, string nameHint = "const") =>
        AddInitializer(OnnxTensor.FromFloats(nameHint, data, dims));

    public string AddInitializer(long[] data, long[] dims, string nameHint = "const") =>
        AddInitializer(OnnxTensor.FromInt64s(nameHint, data, dims));

    public string AddInitializer(string[] data, long[] dims, string nameHint = "const") =>
        AddInitializer(OnnxTensor.FromStrings(nameHint, data, dims));

    /// <summary>Adds a constant tensor; its name is made unique from the tensor's own name. Returns that name.</summary>
    public string AddInitializer(TensorProto tensor)
    {
        CheckElementCount(tensor);
        tensor.Name = UniqueName(tensor.Name);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns the output's name (<paramref name="outputName"/> when given, else made from the node name).</summary>
    public string AddNode(string opType, IReadOnlyList<string> inputs, IEnumerable<AttributeProto>? attributes = null, string? name = null, string? outputName = null) =>
        AddNodeWithOutputs(opType, inputs, 1, attributes, name, outputName is null ? null : [outputName])[0];

    /// <summary>Adds a node with several outputs. An empty input name marks an omitted optional input, as ONNX allows.</summary>
    public string[] AddNodeWithOutputs(string opType, IReadOnlyList<string> inputs, int outputCount, IEnumerable<AttributeProto>? attributes = null, string? name = null, IReadOnlyList<string>? outputNames = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        foreach (string input in inputs)
            if (input.Length > 0 && !_valueNames.Contains(input))
                throw new InvalidOperationException($"ONNX graph '{_graph.Name}': {opType} node '{name ?? opType}' reads '{input}', which no input, initializer or earlier node defines.");
        if (outputNames is not null && outputNames.Count != outputCount)
            throw new ArgumentException($"{opType}: {outputNames.Count} output names given for {outputCount} outputs.", nameof(outputNames));

        var node = new NodeProto { OpType = opType, Name = _nodeNames.Reserve(name ?? opType) };
        node.Input.Add(inputs);
        for (int i = 0; i < outputCount; i++)
        {
            if (outputNames is not null) node.Output.Add(Claim(outputNames[i]));
            else node.Output.Add(UniqueName(outputCount == 1 ? $"{node.Name}_out" : $"{node.Name}_out{i}"));
        }
        if (attributes is not null) node.Attribute.Add(attributes);
        _graph.Node.Add(node);
        return node.Output.ToArray();
    }

    private string Claim(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_valueNames.TryAdd(name))
            throw new InvalidOperationException($"ONNX graph '{_graph.Name}': the name '{name}' is already used.");
        return name;
    }

    private static void CheckElementCount(TensorProto t)
    {
        if (!OnnxTensor.IsWritable(t.DataType))
            throw new NotSupportedException($"ONNX tensor '{t.Name}': element type {t.DataType} is not supported for constants.");
        if (OnnxTensor.DataProblem(t) is { } problem) throw new ArgumentException($"ONNX {problem}.");
    }

    private sealed class NameSet
    {
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _nextSuffix = new(StringComparer.Ordinal);

        public bool Contains(string name) => _names.Contains(name);

        public bool TryAdd(string name) => _names.Add(name);

        public string Reserve(string hint)
        {
            if (string.IsNullOrEmpty(hint)) hint = "v";
            if (_names.Add(hint)) return hint;
            int n = _nextSuffix.GetValueOrDefault(hint, 1);
            string candidate;
            do candidate = $"{hint}_{n++}"; while (!_names.Add(candidate));
            _nextSuffix[hint] = n;
            return candidate;
        }
    }

    private static ValueInfoProto ValueInfo(string name, OnnxDataType type, OnnxDim[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var dim in shape)
        {
            var dimension = new TensorShapeProto.Types.Dimension();
            if (dim.Value is long value) dimension.DimValue = value;
            else if (!string.IsNullOrEmpty(dim.Name)) dimension.DimParam = dim.Name;
            tensorShape.Dim.Add(dimension);
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = tensorShape } },
        };
    }
}
