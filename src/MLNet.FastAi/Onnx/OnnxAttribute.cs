using Google.Protobuf;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>Makes ONNX node attributes (<see cref="AttributeProto"/>) of each kind the exporter uses.</summary>
internal static class OnnxAttribute
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto IntList(string name, params long[] values) => new() { Name = name, Type = OnnxAttributeType.Ints, Ints = { values } };

    public static AttributeProto FloatList(string name, params float[] values) => new() { Name = name, Type = OnnxAttributeType.Floats, Floats = { values } };

    public static AttributeProto StringList(string name, params string[] values) =>
        new() { Name = name, Type = OnnxAttributeType.Strings, Strings = { values.Select(ByteString.CopyFromUtf8) } };

    public static AttributeProto Tensor(string name, TensorProto value) => new() { Name = name, Type = OnnxAttributeType.Tensor, T = value };

    /// <summary>The node's attribute called <paramref name="name"/>, or null.</summary>
    public static AttributeProto? Find(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
}
