using System.Buffers.Binary;
using System.Text;
using MLNet.FastAi.Internal.Protobuf;

namespace MLNet.FastAi.Training.TensorBoard;

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

    /// <summary>Decodes an Event with the field numbers listed on <see cref="TensorBoardEventEncoder"/>.</summary>
    public static TensorBoardEvent DecodeEvent(ReadOnlySpan<byte> data, string what)
    {
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        var values = new List<TensorBoardValue>();
        var r = new ProtoReader(data, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: wallTime = r.ReadDouble(); break;
                case 2: step = r.ReadInt64(); break;
                case 3: fileVersion = r.ReadString(); break;
                case 5: ReadSummary(r.ReadBytes(), what, values); break;
                default: r.Skip(wire); break;
            }
        }
        return new TensorBoardEvent(wallTime, step, fileVersion, values);
    }

    private static void ReadSummary(ReadOnlySpan<byte> summary, string what, List<TensorBoardValue> into)
    {
        var r = new ProtoReader(summary, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1) into.Add(ReadValue(r.ReadBytes(), what));
            else r.Skip(wire);
        }
    }

    private static TensorBoardValue ReadValue(ReadOnlySpan<byte> value, string what)
    {
        string tag = "";
        float? simple = null;
        TensorBoardImage? image = null;
        string? text = null;
        string? plugin = null;
        var r = new ProtoReader(value, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: tag = r.ReadString(); break;
                case 2: simple = r.ReadFloat(); break;
                case 4: image = ReadImage(r.ReadBytes(), what); break;
                case 8: text = ReadStringTensor(r.ReadBytes(), what); break;
                case 9: plugin = ReadPluginName(r.ReadBytes(), what); break;
                default: r.Skip(wire); break;
            }
        }
        return new TensorBoardValue(tag, simple, image, text, plugin);
    }

    private static TensorBoardImage ReadImage(ReadOnlySpan<byte> image, string what)
    {
        int height = 0, width = 0, colorspace = 0;
        byte[] encoded = [];
        var r = new ProtoReader(image, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: height = r.ReadInt32(); break;
                case 2: width = r.ReadInt32(); break;
                case 3: colorspace = r.ReadInt32(); break;
                case 4: encoded = r.ReadBytes().ToArray(); break;
                default: r.Skip(wire); break;
            }
        }
        return new TensorBoardImage(height, width, colorspace, encoded);
    }

    /// <summary>The strings of a DT_STRING tensor joined by newlines (one string for a text summary); null for other tensors.</summary>
    private static string? ReadStringTensor(ReadOnlySpan<byte> tensor, string what)
    {
        var strings = new List<string>();
        var r = new ProtoReader(tensor, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 8) strings.Add(Encoding.UTF8.GetString(r.ReadBytes()));
            else r.Skip(wire);
        }
        return strings.Count == 0 ? null : string.Join("\n", strings);
    }

    private static string? ReadPluginName(ReadOnlySpan<byte> metadata, string what)
    {
        var r = new ProtoReader(metadata, what);
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1) { r.Skip(wire); continue; }
            var pluginData = new ProtoReader(r.ReadBytes(), what);
            while (pluginData.TryReadTag(out int pf, out var pw))
            {
                if (pf == 1) return pluginData.ReadString();
                pluginData.Skip(pw);
            }
        }
        return null;
    }
}
