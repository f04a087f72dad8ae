using MLNet.FastAi.Bench.Infrastructure;
using SkiaSharp;

namespace MLNet.FastAi.Bench.Photos;

/// <summary>
/// <c>photos-make</c>: a folder of synthetic JPEG "photos" for the photo-size benchmarks (no photo dataset is reachable
/// here). Sizes follow pet photos (500×375, 375×500, 500×333, 640×427, 427×640, 500×500); each class has its own colour
/// and shape over a textured background, so JPEG sizes and decode costs are those of real photos (40–120 KB) and a
/// network can still learn the classes.
/// </summary>
internal static class SyntheticPhotos
{
    private static readonly (int Width, int Height)[] Sizes = { (500, 375), (375, 500), (500, 333), (640, 427), (427, 640), (500, 500) };

    public static int Run(BenchArgs args, BenchReport report)
    {
        string output = Path.GetFullPath(args.Required("out"));
        int count = args.Int("count", 1000);
        int classes = args.Int("classes", 5, min: 2);
        int seed = args.Int("seed", 1, min: 0);
        double validShare = args.Double("valid-pct", 0.2);
        args.RejectUnknown();
        var started = System.Diagnostics.Stopwatch.StartNew();
        long bytes = 0;
        Parallel.For(0, count, i =>
        {
            var random = new Random(seed * 1_000_003 + i);
            int label = i % classes;
            string split = random.NextDouble() < validShare ? "valid" : "train";
            string folder = Path.Combine(output, split, $"class{label}");
            Directory.CreateDirectory(folder);
            var jpeg = Photo(Sizes[random.Next(Sizes.Length)], label, random);
            File.WriteAllBytes(Path.Combine(folder, $"{i:D7}.jpg"), jpeg);
            Interlocked.Add(ref bytes, jpeg.Length);
        });
        report.Setting("out", output);
        report.Figure("photos written", count, "files");
        report.Figure("mean JPEG size", bytes / 1024.0 / count, "KiB");
        report.Figure("time", started.Elapsed.TotalSeconds, "s");
        return 0;
    }

    /// <summary>
    /// <c>photos-upscale</c>: small labelled images (e.g. Fashion-MNIST's 28×28, from scripts/make-fashion-mnist.sh)
    /// as photo-like JPEGs for accuracy checks at photo sizes: each image upscaled to a random 84–112 px square and
    /// placed at a random spot of a 4:3 or 3:4 canvas (160×120 or 120×160) with a grainy background, so that cropping
    /// and presizing matter.
    /// </summary>
    public static int Upscale(BenchArgs args, BenchReport report)
    {
        string from = Path.GetFullPath(args.Required("from"));
        string output = Path.GetFullPath(args.Required("out"));
        int trainPerClass = args.Int("train-per-class", 300), validPerClass = args.Int("valid-per-class", 100);
        int seed = args.Int("seed", 1, min: 0);
        args.RejectUnknown();
        var classes = Directory.GetDirectories(from).Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2) throw new UsageException($"'{from}' needs one subfolder per class.");
        int written = 0;
        for (int c = 0; c < classes.Count; c++)
        {
            string folder = classes[c];
            var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).Take(trainPerClass + validPerClass).ToList();
            Parallel.For(0, files.Count, i =>
            {
                var random = new Random(seed * 1_000_003 + c * 10_007 + i);
                string split = i < trainPerClass ? "train" : "valid";
                string target = Path.Combine(output, split, Path.GetFileName(folder));
                Directory.CreateDirectory(target);
                File.WriteAllBytes(Path.Combine(target, Path.GetFileNameWithoutExtension(files[i]) + ".jpg"), Upscaled(files[i], random));
                Interlocked.Increment(ref written);
            });
        }
        report.Figure("photos written", written, "files");
        return 0;
    }

    private static byte[] Upscaled(string source, Random random)
    {
        bool landscape = random.Next(2) == 0;
        var info = new SKImageInfo(landscape ? 160 : 120, landscape ? 120 : 160, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        using (var background = new SKBitmap(info))
        {
            var pixels = new byte[info.Width * info.Height * 4];
            int tone = random.Next(20, 90);
            for (int i = 0; i < pixels.Length; i += 4)
            {
                byte v = (byte)Math.Clamp(tone + random.Next(-15, 16), 0, 255);
                (pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]) = (v, v, (byte)Math.Min(255, v + 10), 255);
            }
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, background.GetPixels(), pixels.Length);
            canvas.DrawBitmap(background, 0, 0);
        }
        using var item = SKBitmap.Decode(source);
        int side = random.Next(84, 113);
        float x = random.Next(0, info.Width - side + 1), y = random.Next(0, info.Height - side + 1);
        using (var paint = new SKPaint { BlendMode = SKBlendMode.Lighten })
        using (var itemImage = SKImage.FromBitmap(item))
            canvas.DrawImage(itemImage, new SKRect(x, y, x + side, y + side), new SKSamplingOptions(SKCubicResampler.Mitchell), paint);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    private static byte[] Photo((int Width, int Height) size, int label, Random random)
    {
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        // A smooth colour field with grain, as in a photo: grain is what makes JPEGs of photos 50-100 KB.
        using (var background = new SKBitmap(info))
        {
            var pixels = new byte[size.Width * size.Height * 4];
            var (r0, g0, b0) = (random.Next(40, 200), random.Next(40, 200), random.Next(40, 200));
            for (int y = 0; y < size.Height; y++)
                for (int x = 0; x < size.Width; x++)
                {
                    int at = (y * size.Width + x) * 4, grain = random.Next(-18, 19), ramp = (x + y) * 60 / (size.Width + size.Height);
                    pixels[at] = (byte)Math.Clamp(r0 + ramp + grain, 0, 255);
                    pixels[at + 1] = (byte)Math.Clamp(g0 - ramp / 2 + grain, 0, 255);
                    pixels[at + 2] = (byte)Math.Clamp(b0 + grain, 0, 255);
                    pixels[at + 3] = 255;
                }
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, background.GetPixels(), pixels.Length);
            canvas.DrawBitmap(background, 0, 0);
        }
        for (int i = 0; i < 12; i++)
        {
            using var clutter = new SKPaint { Color = SKColor.FromHsv((float)random.NextDouble() * 360, 50, 60).WithAlpha(120), IsAntialias = true };
            canvas.DrawCircle(random.Next(size.Width), random.Next(size.Height), random.Next(5, 60), clutter);
        }
        using (var subject = new SKPaint { Color = SKColor.FromHsv(label * 360f / 7, 85, 90), IsAntialias = true })
        {
            float side = Math.Min(size.Width, size.Height) * (0.3f + 0.3f * (float)random.NextDouble());
            float x = (float)random.NextDouble() * (size.Width - side), y = (float)random.NextDouble() * (size.Height - side);
            switch (label % 3)
            {
                case 0: canvas.DrawOval(new SKRect(x, y, x + side, y + side * 0.7f), subject); break;
                case 1: canvas.DrawRoundRect(new SKRect(x, y, x + side, y + side), side / 5, side / 5, subject); break;
                default:
                    using (var path = new SKPath())
                    {
                        path.MoveTo(x + side / 2, y);
                        path.LineTo(x + side, y + side);
                        path.LineTo(x, y + side);
                        path.Close();
                        canvas.DrawPath(path, subject);
                    }
                    break;
            }
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 85);
        return data.ToArray();
    }
}
