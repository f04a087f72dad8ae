using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Image files written byte by byte, for the kinds SkiaSharp will not encode: 16-bit and palette PNGs, PNG headers
/// with impossible sizes, and CMYK JPEGs. Every pixel value is known, so a test can check what the decoder makes of it.
/// </summary>
internal static class HandMadeImages
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    /// <summary>PNG colour types (PNG specification, IHDR).</summary>
    public const byte Gray = 0, Rgb = 2, Palette = 3, Rgba = 6;

    /// <summary>
    /// A PNG of <paramref name="width"/>×<paramref name="height"/> whose scanlines (without filter bytes) are
    /// <paramref name="rowBytes"/>(y); <paramref name="chunks"/> go between IHDR and IDAT (PLTE, tRNS).
    /// </summary>
    public static byte[] Png(int width, int height, byte colorType, byte bitDepth, Func<int, byte[]> rowBytes, params (string Type, byte[] Data)[] chunks)
    {
        var png = new MemoryStream();
        png.Write(PngSignature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colorType;
        PngChunk(png, "IHDR", header);
        foreach (var (type, data) in chunks) PngChunk(png, type, data);
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter type None
            raw.Write(rowBytes(y));
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw.ToArray());
        PngChunk(png, "IDAT", compressed.ToArray());
        PngChunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    /// <summary>A 16-bit grayscale PNG: each sample is <paramref name="value"/>(x, y), big-endian.</summary>
    public static byte[] Gray16(int width, int height, Func<int, int, ushort> value) =>
        Png(width, height, Gray, 16, y =>
        {
            var row = new byte[2 * width];
            for (int x = 0; x < width; x++) BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(2 * x), value(x, y));
            return row;
        });

    /// <summary>An 8-bit palette PNG: <paramref name="index"/>(x, y) picks an entry of <paramref name="palette"/>.</summary>
    public static byte[] PalettePng(int width, int height, (byte R, byte G, byte B)[] palette, Func<int, int, byte> index) =>
        Png(width, height, Palette, 8, y => Enumerable.Range(0, width).Select(x => index(x, y)).ToArray(),
            ("PLTE", palette.SelectMany(c => new[] { c.R, c.G, c.B }).ToArray()));

    /// <summary>An 8-bit RGBA PNG (straight, not premultiplied, alpha as the format defines).</summary>
    public static byte[] RgbaPng(int width, int height, Func<int, int, (byte R, byte G, byte B, byte A)> pixel) =>
        Png(width, height, Rgba, 8, y => Enumerable.Range(0, width).SelectMany(x =>
        {
            var p = pixel(x, y);
            return new[] { p.R, p.G, p.B, p.A };
        }).ToArray());

    /// <summary>An 8-bit RGB PNG.</summary>
    public static byte[] RgbPng(int width, int height, Func<int, int, (byte R, byte G, byte B)> pixel) =>
        Png(width, height, Rgb, 8, y => Enumerable.Range(0, width).SelectMany(x =>
        {
            var p = pixel(x, y);
            return new[] { p.R, p.G, p.B };
        }).ToArray());

    /// <summary>A header claiming <paramref name="width"/>×<paramref name="height"/> gray pixels followed by almost no data.</summary>
    public static byte[] PngClaiming(int width, int height)
    {
        var png = new MemoryStream();
        png.Write(PngSignature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        PngChunk(png, "IHDR", header);
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) z.Write(new byte[] { 0, 0 });
        PngChunk(png, "IDAT", compressed.ToArray());
        PngChunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    private static void PngChunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        s.Write(head);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, System.IO.Hashing.Crc32.HashToUInt32([.. head.AsSpan(4), .. data]));
        s.Write(crc);
    }

    /// <summary>
    /// A baseline CMYK JPEG as Photoshop writes them (Adobe APP14 marker, no colour transform, inverted samples) made
    /// of flat 8×8 blocks, so that only DC coefficients are needed and, with a quantisation table of ones, every sample
    /// decodes exactly: <paramref name="block"/>(bx, by) gives the four stored samples of each block. Width and height
    /// are multiples of 8.
    /// </summary>
    public static byte[] FlatCmykJpeg(int width, int height, Func<int, int, (byte C, byte M, byte Y, byte K)> block)
    {
        if (width % 8 != 0 || height % 8 != 0) throw new ArgumentException("Sides must be multiples of 8.");
        var jpeg = new MemoryStream();
        jpeg.Write(new byte[] { 0xFF, 0xD8 });
        // APP14 "Adobe": version 100, flags 0, 0, transform 0 (CMYK stored as is).
        Segment(jpeg, 0xEE, Encoding.ASCII.GetBytes("Adobe").Concat(new byte[] { 0, 100, 0, 0, 0, 0, 0 }).ToArray());
        Segment(jpeg, 0xDB, new byte[] { 0 }.Concat(Enumerable.Repeat((byte)1, 64)).ToArray());
        var frame = new List<byte> { 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 4 };
        for (byte c = 1; c <= 4; c++) frame.AddRange(new byte[] { c, 0x11, 0 });
        Segment(jpeg, 0xC0, frame.ToArray());
        // The standard luminance DC table (ITU T.81 K.3) and an AC table holding only end-of-block, coded "0".
        Segment(jpeg, 0xC4, new byte[] { 0x00 }.Concat(DcBits).Concat(Enumerable.Range(0, 12).Select(i => (byte)i)).ToArray());
        Segment(jpeg, 0xC4, new byte[] { 0x10, 1 }.Concat(new byte[15]).Concat(new byte[] { 0x00 }).ToArray());
        var scan = new List<byte> { 4 };
        for (byte c = 1; c <= 4; c++) scan.AddRange(new byte[] { c, 0x00 });
        scan.AddRange(new byte[] { 0, 63, 0 });
        Segment(jpeg, 0xDA, scan.ToArray());

        var bits = new BitWriter();
        var dcCodes = CanonicalCodes(DcBits);
        var previous = new int[4];
        for (int by = 0; by < height / 8; by++)
            for (int bx = 0; bx < width / 8; bx++)
            {
                var (c0, c1, c2, c3) = block(bx, by);
                byte[] samples = { c0, c1, c2, c3 };
                for (int comp = 0; comp < 4; comp++)
                {
                    int dc = 8 * (samples[comp] - 128);  // a flat block's DCT: F(0,0) = 8 × (sample − 128)
                    int diff = dc - previous[comp];
                    previous[comp] = dc;
                    int category = diff == 0 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)Math.Abs(diff));
                    var (code, length) = dcCodes[category];
                    bits.Write(code, length);
                    if (category > 0) bits.Write(diff >= 0 ? diff : diff + (1 << category) - 1, category);
                    bits.Write(0, 1);  // end of block
                }
            }
        jpeg.Write(bits.ToStuffedBytes());
        jpeg.Write(new byte[] { 0xFF, 0xD9 });
        return jpeg.ToArray();
    }

    private static readonly byte[] DcBits = { 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };

    /// <summary>Huffman codes (value → code, length) of a table given by code counts per length, values 0, 1, 2, ...</summary>
    private static (int Code, int Length)[] CanonicalCodes(byte[] countsPerLength)
    {
        var codes = new List<(int, int)>();
        int code = 0;
        for (int length = 1; length <= 16; length++)
        {
            for (int i = 0; i < countsPerLength[length - 1]; i++) codes.Add((code++, length));
            code <<= 1;
        }
        return codes.ToArray();
    }

    private static void Segment(Stream s, byte marker, byte[] payload)
    {
        s.WriteByte(0xFF);
        s.WriteByte(marker);
        s.WriteByte((byte)((payload.Length + 2) >> 8));
        s.WriteByte((byte)(payload.Length + 2));
        s.Write(payload);
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = new();
        private int _current, _count;

        public void Write(int value, int length)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                _current = (_current << 1) | ((value >> i) & 1);
                if (++_count == 8) Flush();
            }
        }

        /// <summary>The bits padded with ones to a whole byte, every 0xFF followed by a stuffed 0x00.</summary>
        public byte[] ToStuffedBytes()
        {
            while (_count != 0) Write(1, 1);
            return _bytes.ToArray();
        }

        private void Flush()
        {
            _bytes.Add((byte)_current);
            if (_current == 0xFF) _bytes.Add(0x00);
            _current = 0;
            _count = 0;
        }
    }
}
