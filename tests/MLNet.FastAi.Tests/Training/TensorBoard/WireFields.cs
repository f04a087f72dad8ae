using Google.Protobuf;
using WireType = Google.Protobuf.WireFormat.WireType;

namespace MLNet.FastAi.Tests.Training.TensorBoard;

/// <summary>One field of a message as the wire format stores it: varints and fixed words as numbers, the rest as bytes.</summary>
internal sealed record WireField(int Number, WireType Wire, ulong Number64, byte[] Bytes);

/// <summary>
/// Splits a message into its fields with no knowledge of the schema (Google.Protobuf's bare
/// <see cref="CodedInputStream"/>, not the generated classes), so tests can check field numbers and wire types.
/// </summary>
internal static class WireFields
{
    public static List<WireField> Parse(byte[] message)
    {
        var fields = new List<WireField>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int number = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            fields.Add(wire switch
            {
                WireType.Varint => new WireField(number, wire, input.ReadUInt64(), []),
                WireType.Fixed64 => new WireField(number, wire, input.ReadFixed64(), []),
                WireType.Fixed32 => new WireField(number, wire, input.ReadFixed32(), []),
                WireType.LengthDelimited => new WireField(number, wire, 0, input.ReadBytes().ToByteArray()),
                _ => throw new InvalidDataException($"unexpected wire type {wire}"),
            });
        }
        return fields;
    }

    /// <summary>The single field with this number, checking its wire type.</summary>
    public static WireField Single(List<WireField> fields, int number, WireType wire)
    {
        var field = Assert.Single(fields, f => f.Number == number);
        Assert.Equal(wire, field.Wire);
        return field;
    }
}
