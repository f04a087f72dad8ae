using MLNet.FastAi.Internal.Protobuf;

namespace MLNet.FastAi.Tests.Internal;

public class ProtoWriterTests
{
    [Fact]
    public void Encodings_MatchTheProtobufDocumentationExamples()
    {
        // protobuf.dev "Encoding": field 1 = 150 is 08 96 01; field 2 = "testing" is 12 07 74 65 73 74 69 6e 67.
        var w = new ProtoWriter();
        w.WriteInt64(1, 150);
        Assert.Equal(new byte[] { 0x08, 0x96, 0x01 }, w.ToArray());

        w.Reset();
        w.WriteString(2, "testing");
        Assert.Equal(new byte[] { 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67 }, w.ToArray());

        // Negative int32s are sign-extended to ten bytes.
        w.Reset();
        w.WriteInt32(1, -1);
        Assert.Equal(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, w.ToArray());

        // Fixed-width fields are little-endian: 1.0f is 0x3F800000.
        w.Reset();
        w.WriteFloat(2, 1.0f);
        Assert.Equal(new byte[] { 0x15, 0x00, 0x00, 0x80, 0x3F }, w.ToArray());
    }

    [Fact]
    public void ScalarFields_RoundTripThroughProtoReader()
    {
        var w = new ProtoWriter(16);
        w.WriteInt64(1, long.MinValue);
        w.WriteInt64(2, long.MaxValue);
        w.WriteInt32(3, int.MinValue);
        w.WriteBool(4, true);
        w.WriteFixed32(5, 0xDEADBEEF);
        w.WriteFixed64(6, 0x0123456789ABCDEF);
        w.WriteFloat(7, -3.25f);
        w.WriteDouble(8, Math.PI);
        w.WriteString(9, "héllo ☃");
        w.WriteBytes(10, new byte[] { 0, 1, 255 });
        w.WriteInt64(536870911, 7); // the largest field number

        var r = new ProtoReader(w.WrittenSpan, "test message");
        Assert.Equal((1, WireType.Varint), Next(ref r)); Assert.Equal(long.MinValue, r.ReadInt64());
        Assert.Equal((2, WireType.Varint), Next(ref r)); Assert.Equal(long.MaxValue, r.ReadInt64());
        Assert.Equal((3, WireType.Varint), Next(ref r)); Assert.Equal(int.MinValue, r.ReadInt32());
        Assert.Equal((4, WireType.Varint), Next(ref r)); Assert.Equal(1UL, r.ReadVarint());
        Assert.Equal((5, WireType.Fixed32), Next(ref r)); Assert.Equal(0xDEADBEEF, r.ReadFixed32());
        Assert.Equal((6, WireType.Fixed64), Next(ref r)); Assert.Equal(0x0123456789ABCDEFUL, r.ReadFixed64());
        Assert.Equal((7, WireType.Fixed32), Next(ref r)); Assert.Equal(-3.25f, r.ReadFloat());
        Assert.Equal((8, WireType.Fixed64), Next(ref r)); Assert.Equal(Math.PI, r.ReadDouble());
        Assert.Equal((9, WireType.LengthDelimited), Next(ref r)); Assert.Equal("héllo ☃", r.ReadString());
        Assert.Equal((10, WireType.LengthDelimited), Next(ref r)); Assert.Equal(new byte[] { 0, 1, 255 }, r.ReadBytes().ToArray());
        Assert.Equal((536870911, WireType.Varint), Next(ref r)); Assert.Equal(7, r.ReadInt64());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void PackedRepeatedFields_RoundTrip()
    {
        long[] longs = [0, 1, -1, 127, 128, 16384, long.MaxValue, long.MinValue];
        float[] floats = [0f, -0f, 1.5f, float.MaxValue, float.Epsilon, float.NegativeInfinity];
        var w = new ProtoWriter();
        w.WritePackedInt64s(1, longs);
        w.WritePackedFloats(2, floats);

        var r = new ProtoReader(w.WrittenSpan, "packed");
        var readLongs = new List<long>();
        var readFloats = new List<float>();
        Assert.Equal((1, WireType.LengthDelimited), Next(ref r)); r.ReadRepeatedInt64(WireType.LengthDelimited, readLongs);
        Assert.Equal((2, WireType.LengthDelimited), Next(ref r)); r.ReadRepeatedFloat(WireType.LengthDelimited, readFloats);
        Assert.Equal(longs, readLongs);
        Assert.Equal(floats, readFloats);
    }

    [Fact]
    public void RawFixedWidthArrays_AreLittleEndianWords()
    {
        var w = new ProtoWriter();
        w.WriteRawInt64s(9, [1L, -2L]);
        w.WriteRawInt32s(9, [0x01020304]);
        Assert.Equal(new byte[]
        {
            0x4A, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0x4A, 4, 0x04, 0x03, 0x02, 0x01,
        }, w.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(127)]      // one-byte length, nothing moves
    [InlineData(128)]      // two-byte length: the body moves right by one
    [InlineData(20_000)]   // three-byte length
    [InlineData(3_000_000)] // four-byte length, and the buffer grows several times
    public void NestedMessages_OfAnySize_GetTheMinimalLengthPrefix(int payloadSize)
    {
        var payload = Enumerable.Range(0, payloadSize).Select(i => (byte)(i * 7)).ToArray();
        var w = new ProtoWriter(16);
        w.WriteInt64(1, 42);
        var outer = w.BeginMessage(2);
        var inner = w.BeginMessage(3);
        w.WriteBytes(4, payload);
        w.EndMessage(inner);
        w.WriteString(5, "after");
        w.EndMessage(outer);
        w.WriteInt64(6, 43);

        int innerBody = 1 + ProtoWriter.VarintSize((ulong)payloadSize) + payloadSize;
        int outerBody = 1 + ProtoWriter.VarintSize((ulong)innerBody) + innerBody + 7;
        Assert.Equal(2 + 1 + ProtoWriter.VarintSize((ulong)outerBody) + outerBody + 2, w.Length);

        var r = new ProtoReader(w.WrittenSpan, "nested");
        Assert.Equal((1, WireType.Varint), Next(ref r)); Assert.Equal(42, r.ReadInt64());
        Assert.Equal((2, WireType.LengthDelimited), Next(ref r));
        var outerReader = new ProtoReader(r.ReadBytes(), "outer");
        Assert.Equal((3, WireType.LengthDelimited), Next(ref outerReader));
        var innerReader = new ProtoReader(outerReader.ReadBytes(), "inner");
        Assert.Equal((4, WireType.LengthDelimited), Next(ref innerReader));
        Assert.True(innerReader.ReadBytes().SequenceEqual(payload));
        Assert.True(innerReader.AtEnd);
        Assert.Equal((5, WireType.LengthDelimited), Next(ref outerReader)); Assert.Equal("after", outerReader.ReadString());
        Assert.True(outerReader.AtEnd);
        Assert.Equal((6, WireType.Varint), Next(ref r)); Assert.Equal(43, r.ReadInt64());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void Reset_ReusesTheWriterForTheNextMessage()
    {
        var w = new ProtoWriter();
        w.WriteString(1, new string('x', 1000));
        w.Reset();
        Assert.Equal(0, w.Length);
        w.WriteInt64(1, 1);
        Assert.Equal(new byte[] { 0x08, 0x01 }, w.ToArray());
    }

    [Fact]
    public void InvalidFieldNumbers_AreRejected()
    {
        var w = new ProtoWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => w.WriteInt64(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.WriteInt64(1 << 29, 1));
    }

    private static (int Field, WireType Wire) Next(ref ProtoReader r)
    {
        Assert.True(r.TryReadTag(out int field, out var wire), "expected another field");
        return (field, wire);
    }
}
