using System.Buffers.Binary;
using System.IO.Compression;

namespace MnistSampleMaker;

/// <summary>
/// Reads the IDX files MNIST and Fashion-MNIST ship in, gzip-compressed or not: a big-endian magic number
/// (0x00000803 for unsigned-byte images, 0x00000801 for unsigned-byte labels), the dimensions, then the bytes.
/// </summary>
internal static class IdxFile
{
    private const int ImagesMagic = 0x00000803;
    private const int LabelsMagic = 0x00000801;

    public static (byte[] Pixels, int Count, int Rows, int Columns) ReadImages(string path)
    {
        var bytes = ReadAll(path);
        RequireMagic(path, bytes, ImagesMagic, "images");
        int count = Dimension(path, bytes, 0), rows = Dimension(path, bytes, 1), columns = Dimension(path, bytes, 2);
        const int headerSize = 16;
        long expected = headerSize + (long)count * rows * columns;
        if (bytes.Length != expected)
            throw new InvalidDataException($"IDX images file '{path}' holds {bytes.Length:N0} bytes; {count:N0} images of {rows}×{columns} need {expected:N0}.");
        return (bytes[headerSize..], count, rows, columns);
    }

    public static byte[] ReadLabels(string path)
    {
        var bytes = ReadAll(path);
        RequireMagic(path, bytes, LabelsMagic, "labels");
        int count = Dimension(path, bytes, 0);
        const int headerSize = 8;
        if (bytes.Length != headerSize + count)
            throw new InvalidDataException($"IDX labels file '{path}' holds {bytes.Length:N0} bytes; {count:N0} labels need {headerSize + count:N0}.");
        return bytes[headerSize..];
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' not found.", path);
        using var file = File.OpenRead(path);
        bool gzipped = file.ReadByte() == 0x1F && file.ReadByte() == 0x8B;
        file.Position = 0;
        using Stream source = gzipped ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var memory = new MemoryStream();
        source.CopyTo(memory);
        return memory.ToArray();
    }

    private static void RequireMagic(string path, byte[] bytes, int magic, string kind)
    {
        if (bytes.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(bytes) != magic)
            throw new InvalidDataException(
                $"'{path}' is not an IDX {kind} file: it should start with 0x{magic:X8}, found 0x{(bytes.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(bytes) : 0):X8}.");
    }

    private static int Dimension(string path, byte[] bytes, int index)
    {
        int offset = 4 + 4 * index;
        if (bytes.Length < offset + 4) throw new InvalidDataException($"IDX file '{path}' ends inside its header.");
        int value = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
        if (value <= 0) throw new InvalidDataException($"IDX file '{path}' has dimension {index} = {value}.");
        return value;
    }
}
