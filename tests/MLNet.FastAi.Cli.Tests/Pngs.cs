using SkiaSharp;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>Checks that a file is a real picture rather than an empty or blank PNG, and reads pixels for ONNX Runtime.</summary>
internal static class Pngs
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static void AssertNonTrivial(string path, int minWidth = 200, int minHeight = 150)
    {
        Assert.True(File.Exists(path), $"{path} was not written.");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, Signature.Length).SequenceEqual(Signature), $"{path} does not start with the PNG signature.");
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= minWidth && bitmap.Height >= minHeight, $"{path} is only {bitmap.Width}×{bitmap.Height}.");
        var colors = new HashSet<SKColor>();
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
                colors.Add(bitmap.GetPixel(x, y));
        Assert.True(colors.Count >= 16, $"{path} has only {colors.Count} distinct colours; it looks blank.");
    }

    /// <summary>The image as planar R, G, B floats in 0..255: the input every exported model takes.</summary>
    public static float[] PlanarRgb(string path, out int width, out int height)
    {
        using var bitmap = SKBitmap.Decode(path);
        width = bitmap.Width;
        height = bitmap.Height;
        var planes = new float[3 * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                planes[y * width + x] = c.Red;
                planes[plane + y * width + x] = c.Green;
                planes[2 * plane + y * width + x] = c.Blue;
            }
        return planes;
    }
}
