using System.Buffers.Binary;
using System.IO.Compression;
using MLNet.FastAi.Data;
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

    /// <summary>A valid PNG header claiming <paramref name="side"/>×<paramref name="side"/> gray pixels, with almost no data.</summary>
    private static byte[] PngClaiming(int side)
    {
        var png = new MemoryStream();
        png.Write(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, side);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), side);
        ihdr[8] = 8; // bit depth; colour type 0 (gray), compression, filter, interlace 0
        Chunk(png, "IHDR", ihdr);
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) z.Write(new byte[] { 0, 0 });
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        s.Write(header);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(header.AsSpan(4).ToArray().Concat(data).ToArray()));
        s.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    [Fact]
    public void HugeHeader_IsRefusedBeforeDecoding_NamingTheFile()
    {
        Good("train/a/1.png"); Good("train/b/2.png"); Good("valid/a/3.png"); Good("valid/b/4.png");
        string bomb = Path.Combine(_root, "train", "a", "bomb.png");
        File.WriteAllBytes(bomb, PngClaiming(100_000));
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
