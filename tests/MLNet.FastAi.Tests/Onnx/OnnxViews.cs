using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>Dictionary views of an ONNX model's repeated entries, for assertions.</summary>
internal static class OnnxViews
{
    public static Dictionary<string, long> OperatorSets(this ModelProto model) => model.OpsetImport.ToDictionary(o => o.Domain, o => o.Version);

    public static Dictionary<string, string> Metadata(this ModelProto model) => model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);

    public static string[] StringsOf(this AttributeProto attribute) => attribute.Strings.Select(s => s.ToStringUtf8()).ToArray();

    public static AttributeProto Attribute(this NodeProto node, string name) =>
        OnnxAttribute.Find(node, name) ?? throw new Xunit.Sdk.XunitException($"node '{node.Name}' has no attribute '{name}'");
}
