using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Pretrained;

/// <summary>
/// Reads and writes TorchSharp's state-dict file format (what <c>Module.save</c> writes): a LEB128 entry count, then per
/// entry a LEB128-length UTF-8 name and a tensor (LEB128 dtype code, rank, dimensions, raw little-endian data). Reading
/// into a dictionary, rather than straight into a module, lets the caller check names and shapes and report the first
/// mismatch; it also keeps checkpoints pure data.
/// </summary>
internal static class TorchSharpStateDict
{
    private static readonly Dictionary<long, (ScalarType Type, int Size)> Codes = new()
    {
        [0] = (ScalarType.Byte, 1), [1] = (ScalarType.Int8, 1), [2] = (ScalarType.Int16, 2), [3] = (ScalarType.Int32, 4),
        [4] = (ScalarType.Int64, 8), [5] = (ScalarType.Float16, 2), [6] = (ScalarType.Float32, 4), [7] = (ScalarType.Float64, 8),
        [11] = (ScalarType.Bool, 1), [15] = (ScalarType.BFloat16, 2),
    };

    public static Dictionary<string, Tensor> Read(Stream stream, string what)
    {
        var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            long count = Leb128(reader, what);
            if (count < 0 || count > 1_000_000) throw new InvalidDataException($"{what} claims {count} tensors; it is not a TorchSharp state dict.");
            for (long i = 0; i < count; i++)
            {
                long nameLength = Leb128(reader, what);
                if (nameLength is < 0 or > 4096) throw new InvalidDataException($"{what}: entry {i} has a name of {nameLength} bytes; the file is corrupted.");
                string name = Encoding.UTF8.GetString(ReadExactly(reader, (int)nameLength, what));
                long code = Leb128(reader, what);
                if (!Codes.TryGetValue(code, out var type)) throw new InvalidDataException($"{what}: tensor '{name}' has unknown element type code {code}.");
                long rank = Leb128(reader, what);
                if (rank is < 0 or > 16) throw new InvalidDataException($"{what}: tensor '{name}' has rank {rank}; the file is corrupted.");
                var shape = new long[rank];
                long elements = 1;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = Leb128(reader, what);
                    if (shape[d] < 0) throw new InvalidDataException($"{what}: tensor '{name}' has a negative dimension.");
                    elements = checked(elements * shape[d]);
                }
                long bytes = checked(elements * type.Size);
                long remaining = stream.CanSeek ? stream.Length - stream.Position : long.MaxValue;
                if (bytes > remaining) throw new InvalidDataException($"{what} is truncated: tensor '{name}' needs {bytes} bytes, {remaining} remain.");
                var data = ReadExactly(reader, checked((int)bytes), what);
                var t = empty(shape, type.Type);
                t.bytes = data;
                result[name] = t.DetachFromDisposeScope();
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    public static void Write(Stream stream, IEnumerable<(string Name, Tensor Tensor)> entries)
    {
        var list = entries.ToList();
        var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        WriteLeb128(writer, list.Count);
        foreach (var (name, tensor) in list)
        {
            var bytesOfName = Encoding.UTF8.GetBytes(name);
            WriteLeb128(writer, bytesOfName.Length);
            writer.Write(bytesOfName);
            var known = Codes.Where(c => c.Value.Type == tensor.dtype).Select(c => (long?)c.Key).FirstOrDefault()
                ?? throw new NotSupportedException($"Tensor '{name}' has element type {tensor.dtype}, which the TorchSharp state-dict format does not store.");
            long code = known;
            WriteLeb128(writer, code);
            WriteLeb128(writer, tensor.shape.Length);
            foreach (var d in tensor.shape) WriteLeb128(writer, d);
            // detach() and cpu() each make a tensor handle, even for a CPU tensor: the scope frees them all.
            using var scope = NewDisposeScope();
            writer.Write(tensor.detach().cpu().contiguous().bytes);
        }
        writer.Flush();
    }

    private static byte[] ReadExactly(BinaryReader reader, int count, string what)
    {
        var bytes = reader.ReadBytes(count);
        if (bytes.Length != count) throw new InvalidDataException($"{what} is truncated.");
        return bytes;
    }

    private static long Leb128(BinaryReader reader, string what)
    {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            int b = reader.BaseStream.ReadByte();
            if (b < 0) throw new InvalidDataException($"{what} is truncated.");
            result |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException($"{what} is corrupted (an over-long number).");
    }

    private static void WriteLeb128(BinaryWriter writer, long value)
    {
        ulong v = (ulong)value;
        do
        {
            byte b = (byte)(v & 0x7f);
            v >>= 7;
            if (v != 0) b |= 0x80;
            writer.Write(b);
        } while (v != 0);
    }
}
