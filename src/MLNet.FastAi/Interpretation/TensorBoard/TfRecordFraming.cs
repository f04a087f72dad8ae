using System.Buffers.Binary;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>
/// TFRecord framing, the container of TensorBoard event files: <c>uint64 length</c>, <c>uint32 masked_crc32c(length
/// bytes)</c>, the data, <c>uint32 masked_crc32c(data)</c>, all little-endian
/// (tensorboard/summary/writer/record_writer.py).
/// </summary>
internal static class TfRecordFraming
{
    public const int HeaderSize = 12;
    public const int FooterSize = 4;

    public static void WriteRecord(Stream stream, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        Span<byte> footer = stackalloc byte[FooterSize];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }
}
