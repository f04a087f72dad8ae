using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace MLNet.FastAi.Internal.Protobuf;

/// <summary>
/// Writes protocol-buffers messages (proto3 wire format) into a growable buffer that can be reused with
/// <see cref="Reset"/>. Field methods always write, even default values: callers own proto3's "skip the default"
/// choice, which keeps what goes on the wire explicit.
/// </summary>
/// <remarks>
/// Nested messages are written in place: <see cref="BeginMessage"/> reserves one byte for the length, and
/// <see cref="EndMessage"/> moves the body right only when its length needs a longer varint. Small messages (the
/// common case) are never copied, and a large one is moved once per nesting level instead of being serialized into
/// a temporary buffer.
/// </remarks>
internal sealed class ProtoWriter
{
    private byte[] _buffer;
    private int _length;

    public ProtoWriter(int initialCapacity = 256) => _buffer = new byte[Math.Max(16, initialCapacity)];

    /// <summary>Bytes written so far.</summary>
    public int Length => _length;

    /// <summary>The bytes written so far; valid until the next write or <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    /// <summary>Forgets what was written, keeping the buffer for the next message.</summary>
    public void Reset() => _length = 0;

    public byte[] ToArray() => WrittenSpan.ToArray();

    public void CopyTo(Stream stream) => stream.Write(_buffer, 0, _length);

    public void WriteTag(int field, WireType wire)
    {
        if (field <= 0 || field > 0x1FFFFFFF) throw new ArgumentOutOfRangeException(nameof(field), field, "Protocol-buffers field numbers run from 1 to 2^29-1.");
        WriteVarint(((ulong)field << 3) | (uint)wire);
    }

    public void WriteVarint(ulong value)
    {
        EnsureCapacity(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    public static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80) { value >>= 7; size++; }
        return size;
    }

    /// <summary>int64/uint64/enum field. Negative values take ten bytes, as the wire format requires.</summary>
    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint((ulong)value);
    }

    /// <summary>int32 field; negative values are sign-extended to 64 bits, as the wire format requires.</summary>
    public void WriteInt32(int field, int value) => WriteInt64(field, value);

    public void WriteBool(int field, bool value) => WriteInt64(field, value ? 1 : 0);

    public void WriteFixed32(int field, uint value)
    {
        WriteTag(field, WireType.Fixed32);
        EnsureCapacity(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void WriteFixed64(int field, ulong value)
    {
        WriteTag(field, WireType.Fixed64);
        EnsureCapacity(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    public void WriteFloat(int field, float value) => WriteFixed32(field, BitConverter.SingleToUInt32Bits(value));

    public void WriteDouble(int field, double value) => WriteFixed64(field, BitConverter.DoubleToUInt64Bits(value));

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)value.Length);
        EnsureCapacity(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>A string field, encoded as UTF-8 straight into the buffer.</summary>
    public void WriteString(int field, string value)
    {
        int byteCount = Encoding.UTF8.GetByteCount(value);
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)byteCount);
        EnsureCapacity(byteCount);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
    }

    /// <summary>
    /// A packed repeated float field. The body is the floats' little-endian bytes, which is also the layout of
    /// ONNX's <c>raw_data</c> and TensorFlow's <c>tensor_content</c> for float32 tensors.
    /// </summary>
    public void WritePackedFloats(int field, ReadOnlySpan<float> values)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteLittleEndian(MemoryMarshal.AsBytes(values), 4);
    }

    /// <summary>int64 values as fixed 8-byte little-endian words in one length-delimited field (ONNX <c>raw_data</c> for INT64).</summary>
    public void WriteRawInt64s(int field, ReadOnlySpan<long> values)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteLittleEndian(MemoryMarshal.AsBytes(values), 8);
    }

    /// <summary>int32 values as fixed 4-byte little-endian words in one length-delimited field (ONNX <c>raw_data</c> for INT32).</summary>
    public void WriteRawInt32s(int field, ReadOnlySpan<int> values)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteLittleEndian(MemoryMarshal.AsBytes(values), 4);
    }

    /// <summary>A packed repeated int64 field (varints); the body length is computed first, so nothing moves.</summary>
    public void WritePackedInt64s(int field, ReadOnlySpan<long> values)
    {
        int size = 0;
        foreach (long v in values) size += VarintSize((ulong)v);
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)size);
        EnsureCapacity(size);
        foreach (long v in values) WriteVarint((ulong)v);
    }

    /// <summary>Starts a nested message in <paramref name="field"/>; pass the result to <see cref="EndMessage"/>.</summary>
    public MessageBookmark BeginMessage(int field)
    {
        WriteTag(field, WireType.LengthDelimited);
        EnsureCapacity(1);
        var bookmark = new MessageBookmark(_length);
        _length++; // one byte reserved for the length; EndMessage widens it when needed
        return bookmark;
    }

    public void EndMessage(MessageBookmark bookmark)
    {
        int lengthAt = bookmark.LengthPosition;
        if (lengthAt < 0 || lengthAt >= _length) throw new InvalidOperationException("EndMessage was given a bookmark this writer did not hand out, or messages were closed out of order.");
        int bodyStart = lengthAt + 1;
        int bodyLength = _length - bodyStart;
        int prefixSize = VarintSize((ulong)bodyLength);
        if (prefixSize > 1)
        {
            EnsureCapacity(prefixSize - 1);
            Buffer.BlockCopy(_buffer, bodyStart, _buffer, lengthAt + prefixSize, bodyLength);
            _length += prefixSize - 1;
        }
        ulong value = (ulong)bodyLength;
        int at = lengthAt;
        while (value >= 0x80)
        {
            _buffer[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[at] = (byte)value;
    }

    private void WriteLittleEndian(ReadOnlySpan<byte> bytes, int wordSize)
    {
        WriteVarint((ulong)bytes.Length);
        EnsureCapacity(bytes.Length);
        var target = _buffer.AsSpan(_length, bytes.Length);
        bytes.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < target.Length; i += wordSize) target.Slice(i, wordSize).Reverse();
        _length += bytes.Length;
    }

    private void EnsureCapacity(int extra)
    {
        long needed = (long)_length + extra;
        if (needed <= _buffer.Length) return;
        if (needed > Array.MaxLength) throw new InvalidOperationException($"A protocol-buffers message cannot exceed {Array.MaxLength} bytes in memory (needed {needed}).");
        long grown = Math.Max(needed, Math.Min(Array.MaxLength, (long)_buffer.Length * 2));
        Array.Resize(ref _buffer, (int)grown);
    }
}

/// <summary>Where a nested message's length goes; returned by <see cref="ProtoWriter.BeginMessage"/>.</summary>
internal readonly record struct MessageBookmark(int LengthPosition);
