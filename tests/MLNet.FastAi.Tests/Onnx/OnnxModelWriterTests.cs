using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Tests.Onnx;

public sealed class OnnxModelWriterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnet-fastai-onnx-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void EveryField_RoundTripsThroughOnnxModelReader()
    {
        var model = SampleModel();

        var read = OnnxModelReader.Read(OnnxModelWriter.Write(model), "written model");

        Assert.Equal(7, read.IrVersion);
        Assert.Equal(("MLNet.FastAi", "0.1.0"), (read.ProducerName, read.ProducerVersion));
        Assert.Equal(new Dictionary<string, long> { [""] = 13, ["ai.onnx.ml"] = 3 }, read.OperatorSets());
        Assert.Equal(new Dictionary<string, string> { ["classes"] = "cat,dog", ["note"] = "ünïcödé" }, read.Metadata());
        Assert.Equal("g", read.Graph.Name);

        var input = Assert.Single(read.Graph.Input);
        Assert.Equal(("input", OnnxDataType.Float), (input.Name, input.Type.TensorType.ElemType));
        Assert.Equal(new long?[] { null, 3, 224, 224 }, OnnxModelReader.Shape(input));
        Assert.Equal(new string?[] { "batch", "", "", "" }, input.Type.TensorType.Shape.Dim.Select(d => d.DimParam));
        var output = Assert.Single(read.Graph.Output);
        Assert.Equal(("y", OnnxDataType.String), (output.Name, output.Type.TensorType.ElemType));
        Assert.Equal(new long?[] { null }, OnnxModelReader.Shape(output));
        Assert.Equal(TensorShapeProto.Types.Dimension.ValueOneofCase.None, Assert.Single(output.Type.TensorType.Shape.Dim).ValueCase); // a dimension neither fixed nor named

        Assert.Collection(read.Graph.Initializer,
            t => { Assert.Equal(("w", OnnxDataType.Float), (t.Name, t.DataType)); Assert.Equal(new long[] { 2, 3 }, t.Dims); Assert.Equal(new[] { 1f, -2f, 3.5f, float.MaxValue, float.Epsilon, -0f }, OnnxTensor.Floats(t)); },
            t => { Assert.Equal(("shape", OnnxDataType.Int64), (t.Name, t.DataType)); Assert.Equal(new long[] { 0, -1, long.MaxValue }, OnnxTensor.Int64s(t)); },
            t => { Assert.Equal(("ints", OnnxDataType.Int32), (t.Name, t.DataType)); Assert.Equal(new[] { int.MinValue, 7 }, OnnxTensor.Int32s(t)); },
            t => { Assert.Equal(("names", OnnxDataType.String), (t.Name, t.DataType)); Assert.Equal(new[] { "cat", "dög" }, OnnxTensor.Strings(t)); },
            t => { Assert.Equal("scalar", t.Name); Assert.Empty(t.Dims); Assert.Equal(new[] { 42f }, OnnxTensor.Floats(t)); });

        var node = Assert.Single(read.Graph.Node);
        Assert.Equal(("n0", "Custom", "com.example"), (node.Name, node.OpType, node.Domain));
        Assert.Equal(new[] { "input", "", "w" }, node.Input);
        Assert.Equal(new[] { "y", "y2" }, node.Output);
        Assert.Equal(1.5f, node.Attribute("f").F);
        Assert.Equal(-3, node.Attribute("i").I);
        Assert.Equal("same_upper", node.Attribute("s").S.ToStringUtf8());
        Assert.Equal(new[] { 0.25f, -1f }, node.Attribute("floats").Floats);
        Assert.Equal(new long[] { 1, -1, 1L << 40 }, node.Attribute("ints").Ints);
        Assert.Equal(new[] { "a", "", "c" }, node.Attribute("strings").StringsOf());
        var tensor = node.Attribute("t");
        Assert.Equal(OnnxAttributeType.Tensor, tensor.Type);
        Assert.Equal(new long[] { 3 }, OnnxTensor.Int64s(tensor.T));
        Assert.Equal(
            new[] { OnnxAttributeType.Float, OnnxAttributeType.Int, OnnxAttributeType.String, OnnxAttributeType.Floats, OnnxAttributeType.Ints, OnnxAttributeType.Strings, OnnxAttributeType.Tensor },
            node.Attribute.Select(a => a.Type));
    }

    [Fact]
    public void Tensors_AreEncodedWithOnnxProtoFieldNumbers()
    {
        // onnx.proto3 TensorProto: dims = 1, data_type = 2, string_data = 6, name = 8, raw_data = 9 (little-endian).
        var model = new ModelProto { IrVersion = 7, Graph = new GraphProto(), OpsetImport = { new OperatorSetIdProto { Version = 13 } } };
        model.Graph.Initializer.Add(OnnxTensor.FromFloats("w", [1f, 2f], 2));
        model.Graph.Initializer.Add(OnnxTensor.FromStrings("s", ["ab"], 1));
        var bytes = OnnxModelWriter.Write(model);

        byte[] floatTensor = [0x0A, 1, 2, 0x10, 1, 0x42, 1, (byte)'w', 0x4A, 8, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40];
        byte[] stringTensor = [0x0A, 1, 1, 0x10, 8, 0x32, 2, (byte)'a', (byte)'b', 0x42, 1, (byte)'s'];
        // GraphProto.initializer = 5, itself inside ModelProto.graph = 7.
        Assert.True(bytes.AsSpan().IndexOf((byte[])[0x2A, (byte)floatTensor.Length, .. floatTensor]) >= 0, "float initializer bytes");
        Assert.True(bytes.AsSpan().IndexOf((byte[])[0x2A, (byte)stringTensor.Length, .. stringTensor]) >= 0, "string initializer bytes");
        Assert.Equal(new byte[] { 0x08, 7 }, bytes[..2]); // ModelProto.ir_version = 1 comes first
    }

    [Fact]
    public void WriteToFile_IsAtomicAndReplacesAnOlderFile()
    {
        string path = Path.Combine(_dir, "sub", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "an older, different file");

        OnnxModelWriter.Write(SampleModel(), path);

        Assert.Equal("g", OnnxModelReader.Read(path).Graph.Name);
        Assert.Equal(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left
    }

    [Fact]
    public void InconsistentModels_FailNamingTheCulprit()
    {
        var wrongCount = new ModelProto { Graph = new GraphProto(), OpsetImport = { new OperatorSetIdProto { Version = 13 } } };
        wrongCount.Graph.Initializer.Add(OnnxTensor.FromFloats("fc.weight", [1f, 2f, 3f], 2, 2));
        var e = Assert.Throws<InvalidOperationException>(() => OnnxModelWriter.Write(wrongCount));
        Assert.Contains("'fc.weight'", e.Message);
        Assert.Contains("[2, 2]", e.Message);

        var noOpset = new ModelProto { Graph = new GraphProto() };
        Assert.Contains("operator set", Assert.Throws<InvalidOperationException>(() => OnnxModelWriter.Write(noOpset)).Message);
    }

    private static ModelProto SampleModel()
    {
        var model = new ModelProto { IrVersion = 7, ProducerName = "MLNet.FastAi", ProducerVersion = "0.1.0", Graph = new GraphProto { Name = "g" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 3 });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "classes", Value = "cat,dog" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "note", Value = "ünïcödé" });
        var g = model.Graph;
        g.Input.Add(ValueInfo("input", OnnxDataType.Float, new() { DimParam = "batch" }, new() { DimValue = 3 }, new() { DimValue = 224 }, new() { DimValue = 224 }));
        g.Output.Add(ValueInfo("y", OnnxDataType.String, new TensorShapeProto.Types.Dimension()));
        g.Initializer.Add(OnnxTensor.FromFloats("w", [1f, -2f, 3.5f, float.MaxValue, float.Epsilon, -0f], 2, 3));
        g.Initializer.Add(OnnxTensor.FromInt64s("shape", [0, -1, long.MaxValue], 3));
        g.Initializer.Add(OnnxTensor.FromInt32s("ints", [int.MinValue, 7], 2));
        g.Initializer.Add(OnnxTensor.FromStrings("names", ["cat", "dög"], 2));
        g.Initializer.Add(OnnxTensor.FromFloats("scalar", [42f]));
        var node = new NodeProto { Name = "n0", OpType = "Custom", Domain = "com.example", Input = { "input", "", "w" }, Output = { "y", "y2" } };
        node.Attribute.Add(
        [
            OnnxAttribute.Float("f", 1.5f),
            OnnxAttribute.Int("i", -3),
            OnnxAttribute.String("s", "same_upper"),
            OnnxAttribute.FloatList("floats", 0.25f, -1f),
            OnnxAttribute.IntList("ints", 1, -1, 1L << 40),
            OnnxAttribute.StringList("strings", "a", "", "c"),
            OnnxAttribute.Tensor("t", OnnxTensor.FromInt64s("", [3], 1)),
        ]);
        g.Node.Add(node);
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, OnnxDataType type, params TensorShapeProto.Types.Dimension[] dims) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = new TensorShapeProto { Dim = { dims } } } },
    };
}
