using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using SkiaSharp;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Damaged and unusual image files, written here: each is either decoded to exactly the pixels written, or refused
/// with an error naming the file and the reason (by default), or left out and listed when BadImageHandling.Skip is set,
/// while training goes on with the rest.
/// </summary>
public sealed class BadImageTests : IDisposable
{
    private const int Side = 16;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-bad-images-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _output;

    public BadImageTests(ITestOutputHelper output)
    {
        _output = output;
        TestTorch.UseOneThread();
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>Each kind of bad file, and what the error must say about it.</summary>
    public static readonly IReadOnlyDictionary<string, (string FileName, Func<byte[]> Bytes, string Reason)> BadKinds =
        new Dictionary<string, (string, Func<byte[]>, string)>
        {
            ["random bytes named .png"] = ("noise.png", () => RandomBytes(600, seed: 5), "not an image"),
            ["truncated PNG"] = ("cut.png", () => FirstHalf(NoisyEncoded(SKEncodedImageFormat.Png)), "truncated"),
            ["truncated JPEG"] = ("cut.jpg", () => FirstHalf(NoisyEncoded(SKEncodedImageFormat.Jpeg)), "truncated"),
            ["truncated WebP"] = ("cut.webp", () => FirstHalf(NoisyEncoded(SKEncodedImageFormat.Webp)), "truncated"),
            ["zero-byte file"] = ("empty.png", () => Array.Empty<byte>(), "empty"),
            ["header claiming 0×0"] = ("zero-size.png", () => HandMadeImages.PngClaiming(0, 0), "header is damaged"),
            ["header claiming 100,000×100,000"] = ("bomb.png", () => HandMadeImages.PngClaiming(100_000, 100_000), "100000×100000"),
        };

    public static TheoryData<string> BadKindNames() => new(BadKinds.Keys);

    [Theory]
    [MemberData(nameof(BadKindNames))]
    public void ABadImage_StopsTheBuildByDefault_WithAnErrorNamingTheFileAndTheReason(string kind)
    {
        WriteGoodImages(trainPerClass: 2, validPerClass: 1);
        var (fileName, bytes, reason) = BadKinds[kind];
        string bad = Write(Path.Combine("train", "b", fileName), bytes());

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { ImageSize = Side }));

        _output.WriteLine($"{kind}: {e.Message}");
        Assert.Contains($"'{bad}'", e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Contains("BadImageHandling.Skip", e.Message);
    }

    [Fact]
    public void WithSkip_EveryBadKindIsLeftOutAndListed_FromTrainingAndValidation_AndTrainingGoesOnWithTheRest()
    {
        var good = WriteGoodImages(trainPerClass: 8, validPerClass: 2);
        var expected = new Dictionary<string, string>();
        int n = 0;
        foreach (var (kind, (fileName, bytes, reason)) in BadKinds)
        {
            // Spread over both classes and both splits, between good files of the same decoding chunk.
            string split = n % 3 == 2 ? "valid" : "train", label = n % 2 == 0 ? "a" : "b";
            expected[Write(Path.Combine(split, label, "x-" + fileName), bytes())] = reason;
            n++;
        }

        using var data = ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions
        {
            ImageSize = Side, BatchSize = 8, Seed = 1, OnBadImage = BadImageHandling.Skip, Normalization = NormalizationStats.None,
        });

        foreach (var skipped in data.SkippedImages) _output.WriteLine($"skipped {Path.GetFileName(skipped.Path)}: {skipped.Reason}");
        Assert.Equal(expected.Keys.Order(), data.SkippedImages.Select(s => s.Path).Order());
        Assert.All(data.SkippedImages, s => Assert.Contains(expected[s.Path], s.Reason));
        Assert.Equal(good.Train.Order(), data.Train.Paths.Order());
        Assert.Equal(good.Valid.Order(), data.Valid.Paths.Order());
        Assert.Equal(data.Train.Count, data.Decoded(data.Train).Count);

        using var learner = Learner.Vision(data, TinyLearnerOptions);
        learner.Fit(1, 1e-3);
        Assert.Equal(16 / 8, learner.Recorder.RawLosses.Count);
        Assert.All(learner.Recorder.RawLosses, l => Assert.True(double.IsFinite(l)));
        Assert.True(double.IsFinite(Assert.Single(learner.Recorder.Epochs).ValidLoss));
    }

    /// <summary>Without an ImageSize the first training image sets it; with Skip, an unreadable first image is passed over.</summary>
    [Fact]
    public void WithoutAnImageSize_AnUnreadableFirstImage_IsNamedByDefault_AndPassedOverWithSkip()
    {
        WriteGoodImages(trainPerClass: 2, validPerClass: 1);
        string bad = Write(Path.Combine("train", "a", "0-first.png"), RandomBytes(300, seed: 9));

        var e = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root));
        Assert.Contains($"'{bad}'", e.Message);
        Assert.Contains("BadImageHandling.Skip", e.Message);

        using var data = ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { OnBadImage = BadImageHandling.Skip });
        Assert.Equal(Side, data.Pipeline.Width);
        Assert.Equal(bad, Assert.Single(data.SkippedImages).Path);
    }

    [Fact]
    public void WithoutAnImageSize_AFirstImageOverTheSizeLimit_IsNamedWithTheOptionToSet()
    {
        WriteGoodImages(trainPerClass: 2, validPerClass: 1);
        string wide = Write(Path.Combine("train", "a", "0-wide.png"), HandMadeImages.Png(5000, 2, HandMadeImages.Gray, 8, _ => new byte[5000]));

        var e = Assert.ThrowsAny<ArgumentException>(() => ImageDataLoaders.FromFolder(_root));

        Assert.Contains($"'{wide}'", e.Message);
        Assert.Contains("5000×2", e.Message);
        Assert.Contains("ImageDataOptions.ImageSize", e.Message);
    }

    [Fact]
    public void UnusualButValidImages_DecodeToExactlyThePixelsWritten()
    {
        WriteGoodImages(trainPerClass: 2, validPerClass: 1);
        var expected = new Dictionary<string, Func<int, int, (int R, int G, int B)>>();
        string Add(string name, byte[] bytes, Func<int, int, (int, int, int)> pixel)
        {
            string path = Write(Path.Combine("train", "a", name), bytes);
            expected[path] = pixel;
            return path;
        }

        // 16-bit samples v·257 are exactly v in 8 bits, however the decoder rounds.
        Add("gray 16-bit.png", HandMadeImages.Gray16(Side, Side, (x, y) => (ushort)(257 * (x * 16 + y))), (x, y) => (x * 16 + y, x * 16 + y, x * 16 + y));
        var palette = new (byte R, byte G, byte B)[] { (10, 20, 30), (200, 100, 50), (0, 255, 128) };
        Add("chiffre_ü_数字.png", HandMadeImages.PalettePng(Side, Side, palette, (x, y) => (byte)((x + 2 * y) % 3)),
            (x, y) => palette[(x + 2 * y) % 3]);
        Add("one pixel, scaled up.png", HandMadeImages.RgbPng(1, 1, (_, _) => (12, 34, 56)), (_, _) => (12, 34, 56));
        // Adobe CMYK, stored inverted: R = C·K/255, G = M·K/255, B = Y·K/255.
        Add("cmyk.jpg", HandMadeImages.FlatCmykJpeg(Side, Side, (bx, by) => bx == by ? ((byte)255, (byte)128, (byte)0, (byte)255) : ((byte)0, (byte)255, (byte)255, (byte)200)),
            (x, y) => x / 8 == y / 8 ? (255, 128, 0) : (0, 200, 200));
        // Opaque on the left; on the right alpha grows from 0. ML.NET loads images premultiplied, so colour under
        // partial transparency comes out scaled by alpha (as if composited over black), and fully transparent is black.
        Add("rgba with transparency.png", HandMadeImages.RgbaPng(Side, Side, (x, _) => (200, 100, 50, (byte)(x < 8 ? 255 : (x - 8) * 36))),
            (x, _) => x < 8 ? (200, 100, 50) : Premultiplied((200, 100, 50), (x - 8) * 36));

        // A flat-coloured JPEG with bytes after its end marker, as some cameras write: accepted; JPEG is lossy, hence ±2.
        string padded = Add("trailing bytes.jpg", FlatJpeg((90, 160, 30)).Concat(new byte[64]).ToArray(), (_, _) => (90, 160, 30));

        using var data = ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { ImageSize = Side, Normalization = NormalizationStats.None });

        Assert.Empty(data.SkippedImages);
        var decoded = data.Decoded(data.Train);
        foreach (var (path, pixel) in expected)
        {
            int i = data.Train.Paths.ToList().IndexOf(path);
            Assert.True(i >= 0, $"{path} is not in the training set");
            var planes = decoded.Image(i).data<byte>().ToArray();
            bool premultiplied = path.Contains("rgba");
            for (int y = 0; y < Side; y++)
                for (int x = 0; x < Side; x++)
                {
                    var (r, g, b) = pixel(x, y);
                    int at = y * Side + x, tolerance = path == padded ? 2 : premultiplied && x >= 8 ? 1 : 0;
                    Assert.True(Math.Abs(planes[at] - r) <= tolerance && Math.Abs(planes[Side * Side + at] - g) <= tolerance && Math.Abs(planes[2 * Side * Side + at] - b) <= tolerance,
                        $"{Path.GetFileName(path)} ({x}, {y}): expected ({r}, {g}, {b}), got ({planes[at]}, {planes[Side * Side + at]}, {planes[2 * Side * Side + at]})");
                }
        }
    }

    [Fact]
    public void FileNamesWithSpacesUnicodeAndCommas_WorkFromFolderFromCsvInPredictAndInTheSavedMLNetModel()
    {
        WriteGoodImages(trainPerClass: 2, validPerClass: 1);
        string[] names = { "with space.png", "chiffre_ü_数字.png", "a,b,c.png" };
        var paths = names.Select((name, i) => Write(Path.Combine("train", "a", name), HandMadeImages.RgbPng(Side, Side, (x, y) => ((byte)(40 * i), (byte)x, (byte)y)))).ToArray();

        using var fromFolder = ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { ImageSize = Side, Normalization = NormalizationStats.None });
        Assert.All(paths, p => Assert.Contains(p, fromFolder.Train.Paths));

        File.WriteAllText(Path.Combine(_root, "labels.csv"), "file,label,is_valid\n" +
            string.Join("\n", paths.Select(p => $"\"{Path.GetRelativePath(_root, p)}\",a,false")) + "\n" +
            string.Join("\n", Directory.GetFiles(Path.Combine(_root, "valid"), "*.png", SearchOption.AllDirectories)
                .Select(p => $"{Path.GetRelativePath(_root, p)},{Path.GetFileName(Path.GetDirectoryName(p))},true")) + "\n" +
            string.Join("\n", Directory.GetFiles(Path.Combine(_root, "train", "b")).Select(p => $"{Path.GetRelativePath(_root, p)},b,false")) + "\n",
            System.Text.Encoding.UTF8);
        using var fromCsv = ImageDataLoaders.FromCsv(_root, fileNameColumn: "file", labelColumn: "label", validColumn: "is_valid",
            options: new ImageDataOptions { ImageSize = Side, Normalization = NormalizationStats.None });
        Assert.Equal(paths.Order(), fromCsv.Train.Paths.Where(p => p.Contains($"{Path.DirectorySeparatorChar}a{Path.DirectorySeparatorChar}")).Order());

        using var learner = Learner.Vision(fromCsv, TinyLearnerOptions);
        var direct = paths.Select(p => learner.Predict(p).Probabilities).ToArray();

        var context = new MLContext(seed: 1);
        string zip = learner.SaveMLNetModel(context, Path.Combine(_root, "model, ü.zip"));
        var model = context.Model.Load(zip, out _);
        using var release = model as IDisposable;
        var rows = context.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }));
        var scores = model.Transform(rows).GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < paths.Length; i++)
            Assert.True(direct[i].Zip(scores[i], (a, b) => Math.Abs(a - b)).Max() < Tolerances.Probability,
                $"{names[i]}: the saved model scores [{string.Join(", ", scores[i])}], the learner [{string.Join(", ", direct[i])}]");
    }

    private static VisionLearnerOptions TinyLearnerOptions => new()
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 1,
    };

    private static (int, int, int) Premultiplied((int R, int G, int B) c, int alpha) =>
        ((int)Math.Round(c.R * alpha / 255.0), (int)Math.Round(c.G * alpha / 255.0), (int)Math.Round(c.B * alpha / 255.0));

    /// <summary>Good 16×16 PNGs in train/{a,b} and valid/{a,b}; returns their paths by split.</summary>
    private (List<string> Train, List<string> Valid) WriteGoodImages(int trainPerClass, int validPerClass)
    {
        var random = new Random(3);
        var train = new List<string>();
        var valid = new List<string>();
        foreach (var (split, count, list) in new[] { ("train", trainPerClass, train), ("valid", validPerClass, valid) })
            foreach (var label in new[] { "a", "b" })
                for (int i = 0; i < count; i++)
                {
                    byte tint = (byte)(label == "a" ? 40 : 200);
                    var bytes = HandMadeImages.RgbPng(Side, Side, (_, _) => (tint, (byte)random.Next(256), (byte)random.Next(256)));
                    list.Add(Write(Path.Combine(split, label, $"{i:D2}.png"), bytes));
                }
        return (train, valid);
    }

    private string Write(string relative, byte[] bytes)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] FirstHalf(byte[] bytes) => bytes[..(bytes.Length / 2)];

    /// <summary>A valid 64×64 noise image in the given format: noise makes the compressed data long enough to cut.</summary>
    private static byte[] NoisyEncoded(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(64, 64);
        var random = new Random(1);
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        using var encoded = bitmap.Encode(format, 90);
        return encoded.ToArray();
    }

    private static byte[] FlatJpeg((byte R, byte G, byte B) colour)
    {
        using var bitmap = new SKBitmap(Side, Side);
        bitmap.Erase(new SKColor(colour.R, colour.G, colour.B));
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);
        return encoded.ToArray();
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
