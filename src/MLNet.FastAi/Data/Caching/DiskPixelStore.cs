using Microsoft.Win32.SafeHandles;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// Images decoded once into a cache file and read back by position (one <c>pread</c> per image): epochs cost reads
/// instead of decoding, later runs reuse the file, and the pages belong to the kernel's cache rather than the process.
/// Every read is checked against the image's hash; an image that fails is decoded again from its file and rewritten.
/// </summary>
internal sealed class DiskPixelStore : PixelStore
{
    private readonly SafeFileHandle _file;
    private readonly PixelCacheFile _layout;
    private readonly ulong[] _hashes;
    private readonly long[] _slots;
    private readonly Func<long, string> _sourceOfSlot;
    private readonly PixelDecoder _decoder;
    private readonly Action<string> _log;
    private readonly Func<long, byte[], bool>? _writeBack;
    private readonly object _repairLock = new();

    /// <param name="file">The open cache file (owned).</param>
    /// <param name="contents">Its layout and tables as read (or written) by this process.</param>
    /// <param name="slots">The slot of each image of the split (only filled slots).</param>
    /// <param name="sourceOfSlot">The file a slot was decoded from, to decode it again when its pixels are damaged.</param>
    /// <param name="decoder">The decoder that built the file.</param>
    /// <param name="log">Where repairs are reported.</param>
    /// <param name="writeBack">Writes a repaired slot's pixels into the file and records them, or returns false when it
    /// cannot now; null when the file is read-only (repaired images are used but not written back).</param>
    public DiskPixelStore(SafeFileHandle file, PixelCacheFile.Contents contents, long[] slots, Func<long, string> sourceOfSlot, PixelDecoder decoder,
        Action<string> log, Func<long, byte[], bool>? writeBack)
        : base(slots.Length, contents.Layout.Info.Height, contents.Layout.Info.Width)
    {
        _file = file;
        _layout = contents.Layout;
        _hashes = contents.Hashes;
        _slots = slots;
        _sourceOfSlot = sourceOfSlot;
        _decoder = decoder;
        _log = log;
        _writeBack = writeBack;
    }

    public override ImageCacheMode Mode => ImageCacheMode.Disk;

    /// <summary>Images decoded again because their cached pixels did not match their hash.</summary>
    public int Repairs { get; private set; }

    public override void Read(IReadOnlyList<long> indices, PixelTarget target)
    {
        for (int k = 0; k < indices.Count; k++)
        {
            long slot = _slots[indices[k]];
            var destination = target(k);
            long offset = _layout.DataOffset + slot * ItemBytes;
            int read = 0;
            while (read < destination.Length)
            {
                int n = RandomAccess.Read(_file, destination[read..], offset + read);
                if (n == 0) break;
                read += n;
            }
            if (read < destination.Length || PixelCacheFile.HashOf(destination) != _hashes[slot]) Repair(slot, destination);
        }
    }

    /// <summary>Decodes a damaged slot again from its file, writes it back and fixes the tables.</summary>
    private void Repair(long slot, Span<byte> destination)
    {
        string path = _sourceOfSlot(slot);
        var pixels = new byte[ItemBytes];
        var failures = _decoder.Decode(_ => path, new[] { 0 }, _ => pixels, stopAtFirstFailure: true);
        if (failures.Count > 0)
            throw new InvalidDataException($"The disk cache's copy of image '{path}' is damaged and it cannot be decoded again: {failures[0].Reason}. " +
                                           "Clear the disk cache (ImageDataLoaders.ClearCache(), or delete its folder) to rebuild it from the images.");
        pixels.CopyTo(destination);
        if (_writeBack is null)
        {
            _log($"The disk cache's copy of '{path}' did not match its checksum; decoded it again (the cache is read-only, so it stays damaged).");
            return;
        }
        bool written;
        lock (_repairLock)
        {
            written = _writeBack(slot, pixels);
            if (written)
            {
                _hashes[slot] = PixelCacheFile.HashOf(pixels);
                Repairs++;
            }
        }
        _log(written ? $"The disk cache's copy of '{path}' did not match its checksum; decoded it again and repaired the cache."
            : $"The disk cache's copy of '{path}' did not match its checksum; decoded it again (another build holds the cache's lock, so a later run repairs it).");
    }

    public override void Dispose() => _file.Dispose();
}
