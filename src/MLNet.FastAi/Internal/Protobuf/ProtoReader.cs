using System.Buffers.Binary;
using System.Text;

namespace MLNet.FastAi.Internal.Protobuf;

/// <summary>Protocol-buffers wire types (proto3 encoding).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// A forward-only reader of protocol-buffers messages over a byte buffer. Only the wire format: callers know the
/// field numbers of the messages they read (ONNX, TensorBoard), so no generated code or descriptor is needed.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;
    private readonly string _what;

    public ProtoReader(ReadOnlySpan<byte> data, string what)
    {
        _data = data;
        _position = 0;
        _what = what;
    }

    public bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wire)
    {
        if (AtEnd) { field = 0; wire = 0; return false; }
        ulong key = ReadVarint();
        field = (int)(key >> 3);
        wire = (WireType)(key & 7);
        if (field == 0) throw Malformed("field number 0");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length) throw Malformed("truncated varint");
            byte b = _data[_position++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Malformed("varint longer than 10 bytes");
    }

    public long ReadInt64() => (long)ReadVarint();

    public int ReadInt32() => (int)(long)ReadVarint();

    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position)) throw Malformed($"length {length} runs past the end");
        return Take((int)length);
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>Reads a packed or unpacked repeated varint field into <paramref name="into"/>.</summary>
    public void ReadRepeatedInt64(WireType wire, List<long> into)
    {
        if (wire != WireType.LengthDelimited) { into.Add(ReadInt64()); return; }
        var inner = new ProtoReader(ReadBytes(), _what);
        while (!inner.AtEnd) into.Add(inner.ReadInt64());
    }

    /// <summary>Reads a packed or unpacked repeated float field into <paramref name="into"/>.</summary>
    public void ReadRepeatedFloat(WireType wire, List<float> into)
    {
        if (wire != WireType.LengthDelimited) { into.Add(ReadFloat()); return; }
        var bytes = ReadBytes();
        for (int i = 0; i + 4 <= bytes.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]));
    }

    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.LengthDelimited: ReadBytes(); break;
            case WireType.Fixed32: Take(4); break;
            default: throw Malformed($"unsupported wire type {(int)wire}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position) throw Malformed("message truncated");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    private InvalidDataException Malformed(string why) =>
        new($"{_what} is not a valid protocol-buffers message ({why} at byte {_position}); the file may be truncated or of another kind.");
}
