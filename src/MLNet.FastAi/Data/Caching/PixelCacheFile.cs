using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// The layout of a disk cache file: a header, every slot's pixels at a fixed offset (so a batch reads each image
/// with one positioned read), then the tables — one XxHash3 per slot, each source image's size, which slots hold
/// pixels, the images that could not be decoded — and a trailer whose hash covers header and tables. A new file is
/// written under a temporary name and moved into place when complete, so a crash leaves no half file under the real
/// name; slots filled later are written before the tables that record them, so a crash while filling leaves them
/// unrecorded, never recorded and wrong. A truncated or damaged file fails <see cref="Open"/> and is rebuilt; a damaged
/// image fails its hash when read and is decoded again.
/// </summary>
/// <remarks>
/// <code>
/// "MLFAIPX2" | int32 header length | header (JSON: key, count, height, width) | zeros to a multiple of 4096
/// pixels: count × 3·H·W bytes (a slot not filled yet is a hole: the file is sparse where the file system allows)
/// tables: count × uint64 hash | count × (int32 width, int32 height) | count × byte filled | int32 length + JSON list of failed images
/// "MLFAIEND" | uint64 XxHash3 of header + tables
/// </code>
/// </remarks>
internal sealed class PixelCacheFile
{
    private static readonly byte[] Magic = "MLFAIPX2"u8.ToArray();
    private static readonly byte[] EndMagic = "MLFAIEND"u8.ToArray();
    private const int Alignment = 4096;
    private const int TrailerLength = 16;

    private readonly byte[] _headerJson;

    private PixelCacheFile(Header header, byte[] headerJson)
    {
        Info = header;
        _headerJson = headerJson;
        DataOffset = (Magic.Length + sizeof(int) + headerJson.Length + Alignment - 1) / Alignment * Alignment;
    }

    /// <summary>What the header records.</summary>
    internal sealed record Header(string Key, long Count, int Height, int Width);

    /// <summary>An image that could not be decoded when its slot was filled (the slot holds no pixels).</summary>
    internal sealed record FailedItem(long Index, string Reason);

    public Header Info { get; }

    public long DataOffset { get; }

    public long ItemBytes => 3L * Info.Height * Info.Width;

    private long TablesOffset => DataOffset + Info.Count * ItemBytes;

    private long FixedTablesLength => Info.Count * (sizeof(ulong) + 2 * sizeof(int) + 1);

    /// <summary>The file's length once written, given the encoded list of failures.</summary>
    public long FileLength(int failuresLength) => TablesOffset + FixedTablesLength + sizeof(int) + failuresLength + TrailerLength;

    public static ulong HashOf(ReadOnlySpan<byte> pixels) => XxHash3.HashToUInt64(pixels);

    /// <summary>The layout of a new file (nothing written).</summary>
    public static PixelCacheFile Plan(Header header) => new(header, JsonSerializer.SerializeToUtf8Bytes(header));

    /// <summary>
    /// Writes the header, the tables and the trailer around the pixels (which the builder wrote at their offsets):
    /// call when the images being added are in, and again after an image's hash changed.
    /// </summary>
    public void WriteTables(SafeFileHandle file, Contents tables) => WriteTables(file, tables.Hashes, tables.Sizes, tables.Filled, tables.Failed);

    /// <inheritdoc cref="WriteTables(SafeFileHandle, Contents)"/>
    public void WriteTables(SafeFileHandle file, ulong[] hashes, (int Width, int Height)[] sourceSizes, bool[] filled, IReadOnlyList<FailedItem> failed)
    {
        var prefix = new byte[Magic.Length + sizeof(int) + _headerJson.Length];
        Magic.CopyTo(prefix, 0);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(Magic.Length), _headerJson.Length);
        _headerJson.CopyTo(prefix, Magic.Length + sizeof(int));
        RandomAccess.Write(file, prefix, 0);

        byte[] failures = JsonSerializer.SerializeToUtf8Bytes(failed);
        var tables = new byte[FixedTablesLength + sizeof(int) + failures.Length];
        for (int i = 0; i < hashes.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(tables.AsSpan(i * sizeof(ulong)), hashes[i]);
        int sizes = hashes.Length * sizeof(ulong);
        for (int i = 0; i < sourceSizes.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(tables.AsSpan(sizes + i * 8), sourceSizes[i].Width);
            BinaryPrimitives.WriteInt32LittleEndian(tables.AsSpan(sizes + i * 8 + 4), sourceSizes[i].Height);
        }
        int flags = sizes + sourceSizes.Length * 8;
        for (int i = 0; i < filled.Length; i++) tables[flags + i] = filled[i] ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(tables.AsSpan((int)FixedTablesLength), failures.Length);
        failures.CopyTo(tables, FixedTablesLength + sizeof(int));
        RandomAccess.Write(file, tables, TablesOffset);

        var trailer = new byte[TrailerLength];
        EndMagic.CopyTo(trailer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer.AsSpan(EndMagic.Length), TrailerHash(_headerJson, tables));
        RandomAccess.Write(file, trailer, TablesOffset + tables.Length);
        RandomAccess.SetLength(file, TablesOffset + tables.Length + TrailerLength);
    }

    /// <summary>
    /// Writes a repaired slot's pixels and records their hash, reading the tables afresh first: another process may
    /// have added slots since this one read them. A file replaced or damaged meanwhile is left to the next run.
    /// </summary>
    public static void WriteBack(SafeFileHandle file, string key, long slot, byte[] pixels)
    {
        var (contents, _) = Open(file, key);
        if (contents is null || slot >= contents.Layout.Info.Count) return;
        RandomAccess.Write(file, pixels, contents.Layout.DataOffset + slot * contents.Layout.ItemBytes);
        contents.Hashes[slot] = HashOf(pixels);
        contents.Filled[slot] = true;
        contents.Layout.WriteTables(file, contents);
    }

    private static ulong TrailerHash(byte[] headerJson, byte[] tables)
    {
        var hash = new XxHash3();
        hash.Append(headerJson);
        hash.Append(tables);
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>What <see cref="Open"/> found.</summary>
    /// <param name="Layout">The file's layout.</param>
    /// <param name="Hashes">Each slot's pixel hash (meaningful where <paramref name="Filled"/>).</param>
    /// <param name="Sizes">Each slot's source image size.</param>
    /// <param name="Filled">Which slots hold pixels.</param>
    /// <param name="Failed">The slots whose image could not be decoded.</param>
    internal sealed record Contents(PixelCacheFile Layout, ulong[] Hashes, (int Width, int Height)[] Sizes, bool[] Filled, List<FailedItem> Failed)
    {
        /// <summary>Whether each slot is filled or known to be undecodable: nothing to decode.</summary>
        public bool[] Settled()
        {
            var settled = (bool[])Filled.Clone();
            foreach (var failed in Failed) settled[failed.Index] = true;
            return settled;
        }
    }

    /// <summary>
    /// Opens a finished cache file and reads its tables, or says why it cannot be used (truncated, another key,
    /// damaged header or tables); the caller then rebuilds it.
    /// </summary>
    public static (Contents? Contents, string? Problem) Open(SafeFileHandle file, string expectedKey)
    {
        long length = RandomAccess.GetLength(file);
        var prefix = new byte[Magic.Length + sizeof(int)];
        if (length < prefix.Length || RandomAccess.Read(file, prefix, 0) < prefix.Length || !prefix.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            return (null, "it does not start like a pixel cache file");
        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(prefix.AsSpan(Magic.Length));
        if (jsonLength <= 0 || jsonLength > Math.Min(length, Alignment * 16)) return (null, "its header length is damaged");
        var json = new byte[jsonLength];
        if (RandomAccess.Read(file, json, prefix.Length) < jsonLength) return (null, "it is truncated inside its header");
        Header? header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(json);
        }
        catch (JsonException)
        {
            return (null, "its header is damaged");
        }
        if (header is null || header.Count < 0 || header.Height < 1 || header.Width < 1) return (null, "its header is damaged");
        if (header.Key != expectedKey) return (null, "it belongs to other files or settings");
        var layout = new PixelCacheFile(header, json);
        long minimum = layout.FileLength(0);
        if (length < minimum) return (null, $"it is {length:N0} bytes long, less than the {minimum:N0} its header needs (truncated)");
        long tablesLength = length - TrailerLength - layout.TablesOffset;
        if (tablesLength > int.MaxValue) return (null, "its tables are too long (damaged)");
        var tables = new byte[tablesLength];
        var trailer = new byte[TrailerLength];
        if (RandomAccess.Read(file, tables, layout.TablesOffset) < tables.Length || RandomAccess.Read(file, trailer, length - TrailerLength) < TrailerLength)
            return (null, "it is truncated");
        if (!trailer.AsSpan(0, EndMagic.Length).SequenceEqual(EndMagic) ||
            BinaryPrimitives.ReadUInt64LittleEndian(trailer.AsSpan(EndMagic.Length)) != TrailerHash(json, tables))
            return (null, "its tables do not match their checksum (truncated or damaged)");

        var hashes = new ulong[header.Count];
        var sizes = new (int, int)[header.Count];
        var filled = new bool[header.Count];
        int sizesOffset = (int)(header.Count * sizeof(ulong));
        int flagsOffset = sizesOffset + (int)header.Count * 8;
        for (int i = 0; i < header.Count; i++)
        {
            hashes[i] = BinaryPrimitives.ReadUInt64LittleEndian(tables.AsSpan(i * sizeof(ulong)));
            sizes[i] = (BinaryPrimitives.ReadInt32LittleEndian(tables.AsSpan(sizesOffset + i * 8)),
                        BinaryPrimitives.ReadInt32LittleEndian(tables.AsSpan(sizesOffset + i * 8 + 4)));
            filled[i] = tables[flagsOffset + i] == 1;
        }
        int failuresLength = BinaryPrimitives.ReadInt32LittleEndian(tables.AsSpan((int)layout.FixedTablesLength));
        if (failuresLength != tables.Length - layout.FixedTablesLength - sizeof(int)) return (null, "its list of failed images is damaged");
        var failed = JsonSerializer.Deserialize<List<FailedItem>>(tables.AsSpan((int)layout.FixedTablesLength + sizeof(int))) ?? [];
        return (new Contents(layout, hashes, sizes, filled, failed), null);
    }
}
