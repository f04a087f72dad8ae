using System.Runtime.InteropServices;
using Google.Protobuf;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>
/// Makes and reads ONNX <see cref="TensorProto"/> constants. Numeric data goes into <c>raw_data</c> (little-endian),
/// the compact form exporters use; on little-endian machines the array is wrapped, not copied, so a weight buffer is
/// copied once, when the model is serialized.
/// </summary>
internal static class OnnxTensor
{
    public static TensorProto FromFloats(string name, float[] data, params long[] dims) => Numeric(name, OnnxDataType.Float, data, dims);

    public static TensorProto FromInt64s(string name, long[] data, params long[] dims) => Numeric(name, OnnxDataType.Int64, data, dims);

    public static TensorProto FromInt32s(string name, int[] data, params long[] dims) => Numeric(name, OnnxDataType.Int32, data, dims);

    public static TensorProto FromInt8s(string name, sbyte[] data, params long[] dims) => Numeric(name, OnnxDataType.Int8, data, dims);

    public static TensorProto FromUInt8s(string name, byte[] data, params long[] dims) => Numeric(name, OnnxDataType.Uint8, data, dims);

    public static TensorProto FromStrings(string name, string[] data, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = OnnxDataType.String };
        tensor.Dims.Add(dims);
        tensor.StringData.Add(data.Select(ByteString.CopyFromUtf8));
        return tensor;
    }

    /// <summary>Elements the shape holds (1 for a scalar, whose dims are empty).</summary>
    /// <summary>The element types this package writes into graphs.</summary>
    public static bool IsWritable(OnnxDataType type) =>
        type is OnnxDataType.Float or OnnxDataType.Int64 or OnnxDataType.Int32 or OnnxDataType.Int8 or OnnxDataType.Uint8 or OnnxDataType.String;

    public static long ElementCount(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>
    /// Why the tensor's data does not fit its shape (a wrong element or byte count, data in an external file), or null
    /// when it does. Only FLOAT, INT64, INT32, INT8, UINT8 and STRING data is counted; other types are passed over.
    /// </summary>
    public static string? DataProblem(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            return $"tensor '{tensor.Name}' stores its data in an external file, which is not supported";
        long count = ElementCount(tensor);
        int width = tensor.DataType switch
        {
            OnnxDataType.Float or OnnxDataType.Int32 => 4,
            OnnxDataType.Int64 => 8,
            OnnxDataType.Int8 or OnnxDataType.Uint8 => 1,
            _ => 0,
        };
        if (width > 0 && !tensor.RawData.IsEmpty)
            return tensor.RawData.Length == count * width ? null : $"tensor '{tensor.Name}' holds {tensor.RawData.Length} bytes but its shape [{string.Join(", ", tensor.Dims)}] needs {count * width}";
        long stored = tensor.DataType switch
        {
            OnnxDataType.Float => tensor.FloatData.Count,
            OnnxDataType.Int32 => tensor.Int32Data.Count,
            OnnxDataType.Int64 => tensor.Int64Data.Count,
            OnnxDataType.String => tensor.StringData.Count,
            _ => -1,
        };
        return stored < 0 || stored == count ? null : $"tensor '{tensor.Name}' has {stored} values but its shape [{string.Join(", ", tensor.Dims)}] needs {count}";
    }

    /// <summary>A FLOAT tensor's values, from <c>raw_data</c> or <c>float_data</c>.</summary>
    public static float[] Floats(TensorProto tensor) =>
        tensor.RawData.IsEmpty ? tensor.FloatData.ToArray() : Decode<float>(tensor, OnnxDataType.Float);

    /// <summary>An INT64 tensor's values, from <c>raw_data</c> or <c>int64_data</c>.</summary>
    public static long[] Int64s(TensorProto tensor) =>
        tensor.RawData.IsEmpty ? tensor.Int64Data.ToArray() : Decode<long>(tensor, OnnxDataType.Int64);

    /// <summary>An INT32 tensor's values, from <c>raw_data</c> or <c>int32_data</c>.</summary>
    public static int[] Int32s(TensorProto tensor) =>
        tensor.RawData.IsEmpty ? tensor.Int32Data.ToArray() : Decode<int>(tensor, OnnxDataType.Int32);

    /// <summary>A STRING tensor's values, decoded from UTF-8.</summary>
    public static string[] Strings(TensorProto tensor) => tensor.StringData.Select(s => s.ToStringUtf8()).ToArray();

    private static TensorProto Numeric<T>(string name, OnnxDataType type, T[] data, long[] dims) where T : unmanaged
    {
        var tensor = new TensorProto { Name = name, DataType = type, RawData = LittleEndianBytes(data) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    private static ByteString LittleEndianBytes<T>(T[] data) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian) return UnsafeByteOperations.UnsafeWrap(new ArrayBytes<T>(data).Memory);
        var bytes = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
        int width = Marshal.SizeOf<T>();
        for (int i = 0; i < bytes.Length; i += width) bytes.AsSpan(i, width).Reverse();
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    private static T[] Decode<T>(TensorProto tensor, OnnxDataType expected) where T : unmanaged
    {
        if (tensor.DataType != expected)
            throw new InvalidDataException($"ONNX tensor '{tensor.Name}' holds {tensor.DataType}, not {expected}.");
        var values = MemoryMarshal.Cast<byte, T>(tensor.RawData.Span).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            int width = Marshal.SizeOf<T>();
            for (int i = 0; i < bytes.Length; i += width) bytes.Slice(i, width).Reverse();
        }
        return values;
    }
}
