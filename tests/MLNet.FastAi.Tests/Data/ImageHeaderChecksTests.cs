using MLNet.FastAi.Data;
using MLNet.FastAi.Tests.Hardening;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Data;

/// <summary>Files that are not decodable images are refused by name before anything large is allocated.</summary>
public sealed class ImageHeaderChecksTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-headers-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Good(string relative)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(8, 8);
        bitmap.Erase(SKColors.White);
        using var file = File.Create(path);
        bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
        return path;
    }

    [Fact]
    public void HugeHeader_IsRefusedBeforeDecoding_NamingTheFile()
    {
        Good("train/a/1.png"); Good("train/b/2.png"); Good("valid/a/3.png"); Good("valid/b/4.png");
        string bomb = Path.Combine(_root, "train", "a", "bomb.png");
        File.WriteAllBytes(bomb, HandMadeImages.PngClaiming(100_000, 100_000));
        long before = GC.GetTotalMemory(forceFullCollection: true);

        var error = Assert.Throws<InvalidDataException>(() => ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { ImageSize = 8 }));

        Assert.Contains(bomb, error.Message);
        Assert.Contains("100000×100000", error.Message);
        Assert.True(GC.GetTotalMemory(forceFullCollection: true) - before < 100_000_000, "nothing near 10 GB may have been allocated");
    }

    [Fact]
    public void EmptyAndNonImageFiles_AreSkippedAndListed_WhenAskedTo()
    {
        Good("train/a/1.png"); Good("train/b/2.png"); Good("valid/a/3.png"); Good("valid/b/4.png");
        string empty = Path.Combine(_root, "train", "a", "empty.png");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        string noise = Path.Combine(_root, "train", "b", "noise.jpg");
        File.WriteAllBytes(noise, Enumerable.Range(0, 500).Select(i => (byte)(i * 37)).ToArray());
        Good("train/a/5.png");

        using var data = ImageDataLoaders.FromFolder(_root, options: new ImageDataOptions { ImageSize = 8, OnBadImage = BadImageHandling.Skip });

        // Good images on both sides of the bad ones in the same decoding chunk survive.
        Assert.True(3 == data.Train.Count, string.Join("; ", data.SkippedImages.Select(b => b.Path + ": " + b.Reason)));
        Assert.Equal(new[] { empty, noise }.Order(), data.SkippedImages.Select(b => b.Path).Order());
        Assert.Contains(data.SkippedImages, b => b.Path == empty && b.Reason.Contains("empty"));
    }
}
