using SkiaSharp;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>Small deterministic PNG files: gradients tinted per image, in assorted sizes so resizing has work to do.</summary>
internal static class TestImages
{
    /// <summary>Writes <paramref name="count"/> PNGs named image0.png, image1.png, ... into <paramref name="folder"/>; returns the file names.</summary>
    public static string[] Write(string folder, int count, int seed)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var names = new string[count];
        for (int i = 0; i < count; i++)
        {
            int width = 20 + random.Next(30), height = 20 + random.Next(30);
            using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
            byte tintR = (byte)random.Next(256), tintG = (byte)random.Next(256), tintB = (byte)random.Next(256);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    bitmap.SetPixel(x, y, new SKColor(
                        (byte)((tintR + 255 * x / width) / 2),
                        (byte)((tintG + 255 * y / height) / 2),
                        (byte)((tintB + random.Next(64)) % 256)));
            names[i] = $"image{i}.png";
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(folder, names[i]), png.ToArray());
        }
        return names;
    }
}
