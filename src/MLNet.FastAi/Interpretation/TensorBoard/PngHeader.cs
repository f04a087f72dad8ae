using System.Buffers.Binary;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>The size and colour type of a PNG, read from its IHDR chunk (the first chunk, required by the PNG spec).</summary>
internal readonly record struct PngHeader(int Width, int Height, byte ColorType)
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static bool TryRead(ReadOnlySpan<byte> png, out PngHeader header)
    {
        header = default;
        // signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4) + bit depth (1) + colour type (1)
        if (png.Length < 26 || !png[..8].SequenceEqual(Signature) || !png.Slice(12, 4).SequenceEqual("IHDR"u8)) return false;
        header = new PngHeader(
            (int)BinaryPrimitives.ReadUInt32BigEndian(png[16..]),
            (int)BinaryPrimitives.ReadUInt32BigEndian(png[20..]),
            png[25]);
        return true;
    }

    /// <summary>
    /// TensorBoard's <c>Summary.Image.colorspace</c> (1 grayscale, 2 grayscale+alpha, 3 RGB, 4 RGBA) for this PNG.
    /// Palette images count as RGB.
    /// </summary>
    public int TensorBoardColorspace => ColorType switch
    {
        0 => 1,
        4 => 2,
        6 => 4,
        _ => 3,
    };
}
