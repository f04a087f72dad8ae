using System.Buffers.Binary;
using Google.Protobuf;
using Tensorboard;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>One TFRecord of an event file, as stored: where it starts, its length, its two checksums and its data.</summary>
internal sealed record TfRecord(int Index, long Offset, ulong Length, uint MaskedLengthCrc, uint MaskedDataCrc, byte[] Data);

/// <summary>One decoded <c>tensorboard.Event</c>.</summary>
internal sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<TensorBoardValue> Values);

/// <summary>One <c>Summary.Value</c>: a scalar, an image or a text, whichever was set.</summary>
internal sealed record TensorBoardValue(string Tag, float? SimpleValue, TensorBoardImage? Image, string? Text, string? PluginName);

/// <summary>A <c>Summary.Image</c>.</summary>
internal sealed record TensorBoardImage(int Height, int Width, int Colorspace, byte[] EncodedImage);

/// <summary>
/// Reads TensorBoard event files back, checking both checksums of every record: for tests, and for users who want
/// to check what a run logged. Decodes the parts this package writes (scalars, images, text) and skips the rest.
/// </summary>
internal static class TensorBoardEventReader
{
    public static IReadOnlyList<TensorBoardEvent> ReadEvents(string path) =>
        ReadRecords(path).Select(r => DecodeEvent(r.Data, $"TensorBoard event file '{path}', record {r.Index}")).ToList();

    /// <summary>Reads every record, failing with the file, record index and byte offset on a checksum mismatch or truncation.</summary>
    public static IReadOnlyList<TfRecord> ReadRecords(string path)
    {
        byte[] bytes;
        try
        {
            // The writer may still have the file open.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"TensorBoard event file '{path}' not found.", path, e);
        }
        return ReadRecords(bytes, path);
    }

    public static IReadOnlyList<TfRecord> ReadRecords(ReadOnlySpan<byte> file, string path)
    {
        var records = new List<TfRecord>();
        long offset = 0;
        while (offset < file.Length)
        {
            int index = records.Count;
            string where = $"TensorBoard event file '{path}', record {index} at byte {offset}";
            var rest = file[(int)offset..];
            if (rest.Length < TfRecordFraming.HeaderSize)
                throw new InvalidDataException($"{where}: truncated header ({rest.Length} of {TfRecordFraming.HeaderSize} bytes).");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(rest);
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]);
            uint expectedLengthCrc = Crc32C.Masked(rest[..8]);
            if (lengthCrc != expectedLengthCrc)
                throw new InvalidDataException($"{where}: length checksum mismatch (stored 0x{lengthCrc:X8}, computed 0x{expectedLengthCrc:X8}); the file is corrupt.");
            ulong available = (ulong)(rest.Length - TfRecordFraming.HeaderSize);
            if (length > available || available - length < TfRecordFraming.FooterSize)
                throw new InvalidDataException($"{where}: truncated ({length} data bytes + {TfRecordFraming.FooterSize} checksum bytes announced, {available} left).");
            var data = rest.Slice(TfRecordFraming.HeaderSize, (int)length);
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(rest[(TfRecordFraming.HeaderSize + (int)length)..]);
            uint expectedDataCrc = Crc32C.Masked(data);
            if (dataCrc != expectedDataCrc)
                throw new InvalidDataException($"{where}: data checksum mismatch (stored 0x{dataCrc:X8}, computed 0x{expectedDataCrc:X8}); the file is corrupt.");
            records.Add(new TfRecord(index, offset, length, lengthCrc, dataCrc, data.ToArray()));
            offset += TfRecordFraming.HeaderSize + (long)length + TfRecordFraming.FooterSize;
        }
        return records;
    }

    /// <summary>Decodes an Event with TorchSharp's generated <c>Tensorboard.Event</c>; fails naming <paramref name="what"/>.</summary>
    /// <remarks>Takes an array: TorchSharp's generated classes predate span-based parsing.</remarks>
    public static TensorBoardEvent DecodeEvent(byte[] data, string what)
    {
        Event e;
        try
        {
            e = Event.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"{what} is not a valid protocol-buffers message ({ex.Message}); the file may be truncated or of another kind.", ex);
        }
        var values = e.Summary?.Value.Select(ToValue).ToList() ?? [];
        return new TensorBoardEvent(e.WallTime, e.Step, e.WhatCase == Event.WhatOneofCase.FileVersion ? e.FileVersion : null, values);
    }

    private static TensorBoardValue ToValue(Summary.Types.Value value) => new(
        value.Tag,
        value.ValueCase == Summary.Types.Value.ValueOneofCase.SimpleValue ? value.SimpleValue : null,
        value.Image is { } image ? new TensorBoardImage(image.Height, image.Width, image.Colorspace, image.EncodedImageString.ToByteArray()) : null,
        value.Tensor is { StringVal.Count: > 0 } tensor ? string.Join("\n", tensor.StringVal.Select(s => s.ToStringUtf8())) : null,
        value.Metadata?.PluginData?.PluginName);
}
