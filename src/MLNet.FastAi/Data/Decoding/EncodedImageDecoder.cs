using MLNet.FastAi.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>
/// Decodes a column of encoded image bytes (what <c>LoadRawImageBytes</c> makes) into an <c>MLImage</c> column, in
/// process, so that ImageAnalytics' ResizeImages and ExtractPixels can take it from there. No stock ML.NET component
/// does this — LoadImages reads only paths, and ONNX Runtime has no kernel for ONNX's ImageDecoder
/// (microsoft/onnxruntime#17593) — so a model that starts with this step cannot be saved as stock ML.NET parts:
/// <see cref="ICanSaveModel.Save"/> refuses, naming the column and the way out.
/// </summary>
internal sealed class EncodedImageDecoder(string bytesColumn, long maxPixels) : ITransformer
{
    /// <summary>The decoded images' column (an intermediate the scoring chain drops).</summary>
    public const string DecodedColumn = "__FastAiDecoded";

    public string BytesColumn => bytesColumn;

    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Extension(inputSchema).Schema;

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new ExtendedMapper(inputSchema, null, Extension(inputSchema));

    public IDataView Transform(IDataView input) => new ExtendedView(input, Extension(input.Schema));

    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(SaveRefusal(bytesColumn));

    /// <summary>Why a model trained on encoded bytes is not saved, and what to do instead.</summary>
    public static string SaveRefusal(string column) =>
        $"FastAiCnn: this model reads encoded image bytes from column '{column}', and no stock ML.NET component decodes bytes " +
        "(ImageAnalytics' LoadImages reads file paths only; ONNX Runtime has no kernel for ONNX's ImageDecoder), so a saved model " +
        "could not load in ML.NET. It scores in this process (Transform, PredictionEngine). To save it, train on the path column " +
        "instead: drop LoadRawImageBytes and set FeatureColumnName to the column of image paths (and ImageFolder to their folder), " +
        "or LoadImages them into an MLImage column.";

    private SchemaExtension Extension(DataViewSchema input)
    {
        var column = input.GetColumnOrNull(bytesColumn)
            ?? throw new ArgumentException($"FastAiCnn: the data has no column '{bytesColumn}' of encoded image bytes.", nameof(input));
        if (column.Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Byte)
            throw new ArgumentException($"FastAiCnn: column '{bytesColumn}' holds {column.Type}, not encoded image bytes (a vector of Byte).", nameof(input));
        var decoded = new AddedColumn(DecodedColumn, new ImageDataViewType(), [bytesColumn], row => ImageGetter(row, column));
        return new SchemaExtension(input, null, [decoded]);
    }

    /// <summary>
    /// Like LoadImages' getter: each call decodes the row's bytes into a new image and disposes the one the caller's
    /// variable held, so a consumer holds one image at a time.
    /// </summary>
    private ValueGetter<MLImage> ImageGetter(DataViewRow row, DataViewSchema.Column column)
    {
        var getBytes = row.GetGetter<VBuffer<byte>>(column);
        var buffer = default(VBuffer<byte>);
        return (ref MLImage value) =>
        {
            getBytes(ref buffer);
            value?.Dispose();
            value = Decode(Bytes(buffer), maxPixels, $"row {row.Position}, column '{bytesColumn}'");
        };
    }

    /// <summary>The bytes of a vector, dense.</summary>
    public static byte[] Bytes(in VBuffer<byte> buffer) => buffer.IsDense ? buffer.GetValues().ToArray() : buffer.DenseValues().ToArray();

    /// <summary>
    /// The size an encoded image's header claims, read without decoding it; null with the reason when the bytes are
    /// empty, not an image the decoder reads, larger than <paramref name="maxPixels"/> (refused before decoding), or
    /// truncated: the checks files get (<see cref="ImageHeaders"/>).
    /// </summary>
    public static (int Width, int Height)? ReadSize(byte[] encoded, long maxPixels, out string? problem)
    {
        var header = ImageHeaders.Read(encoded, maxPixels);
        problem = header.Problem;
        return header.IsUsable ? (header.Width, header.Height) : null;
    }

    /// <summary>Decodes encoded bytes into an image, naming <paramref name="where"/> when they are not one.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a usable image.</exception>
    public static MLImage Decode(byte[] encoded, long maxPixels, string where)
    {
        if (ReadSize(encoded, maxPixels, out string? problem) is null)
            throw new InvalidDataException($"The image in {where} cannot be decoded: {problem}.");
        try
        {
            return MLImage.CreateFromStream(new MemoryStream(encoded, writable: false));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException($"The image in {where} cannot be decoded: {e.Message}", e);
        }
    }
}
