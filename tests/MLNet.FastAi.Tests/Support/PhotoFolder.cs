using SkiaSharp;

namespace MLNet.FastAi.Tests.Support;

/// <summary>
/// Small synthetic photo folders: JPEGs of mixed sizes and both orientations, one subfolder per class, each class a
/// colour and a shape that survive resizing and cropping, so a tiny network can learn them.
/// </summary>
internal static class PhotoFolder
{
    /// <summary>Mixed sizes, landscape, portrait and square, as in a folder of phone photos (scaled down).</summary>
    public static readonly (int Width, int Height)[] Sizes = { (40, 30), (30, 40), (36, 36), (48, 32), (32, 44) };

    /// <summary>Writes <c>root/split/class/i.jpg</c> for each split and class; returns the root.</summary>
    public static string Write(string root, int perClass, int classes = 3, string split = "train", int seed = 1, IReadOnlyList<(int Width, int Height)>? sizes = null)
    {
        sizes ??= Sizes;
        var random = new Random(seed);
        for (int c = 0; c < classes; c++)
        {
            string folder = Path.Combine(root, split, $"class{c}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                var (w, h) = sizes[(i + c) % sizes.Count];
                File.WriteAllBytes(Path.Combine(folder, $"{i:D3}.jpg"), Jpeg(w, h, c, random));
            }
        }
        return root;
    }

    /// <summary>A JPEG: a noisy background and a class-coloured shape at a random place.</summary>
    public static byte[] Jpeg(int width, int height, int classIndex, Random random)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)random.Next(60, 120);
                bitmap.SetPixel(x, y, new SKColor(v, (byte)(v + 10), (byte)(v - 20)));
            }
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Color = classIndex switch { 0 => SKColors.Red, 1 => SKColors.Blue, _ => SKColors.Yellow }, IsAntialias = true })
        {
            float size = Math.Min(width, height) * 0.5f;
            float cx = random.Next((int)size / 2, width - (int)size / 2), cy = random.Next((int)size / 2, height - (int)size / 2);
            if (classIndex % 2 == 0) canvas.DrawCircle(cx, cy, size / 2, paint);
            else canvas.DrawRect(cx - size / 2, cy - size / 2, size, size, paint);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}
