using Microsoft.Win32.SafeHandles;
using MLNet.FastAi.Data.Decoding;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Caching;

/// <summary>The pixels of one split as built: the store, and which positions of the split it holds, in order.</summary>
internal sealed record SplitPixels(PixelStore Store, int[] Kept, IReadOnlyList<(int Position, string Reason)> Failed, bool Reused);

/// <summary>Where decoded images go, one position at a time, in any order; <see cref="Write"/> from any thread.</summary>
internal interface IPixelSink
{
    /// <summary>Stores the planar RGB pixels of position <paramref name="position"/>.</summary>
    void Write(int position, ReadOnlySpan<byte> pixels);

    /// <summary>Records that position <paramref name="position"/> has no usable image.</summary>
    void Fail(int position, string reason);
}

/// <summary>
/// Receives a split's decoded images one position at a time, in any order, and ends as a <see cref="PixelStore"/>:
/// in memory, or in a disk cache file laid out as <see cref="PixelCacheFile"/> describes.
/// </summary>
internal abstract class SplitPixelWriter : IPixelSink, IDisposable
{
    protected SplitPixelWriter(int count, ImagePipeline pipeline)
    {
        Count = count;
        ItemBytes = pipeline.PixelCount;
    }

    public int Count { get; }

    protected int ItemBytes { get; }

    protected SortedDictionary<int, string> Failures { get; } = new();

    /// <summary>Stores the planar RGB pixels of position <paramref name="position"/>.</summary>
    public abstract void Write(int position, ReadOnlySpan<byte> pixels);

    /// <summary>Records that position <paramref name="position"/> has no usable image.</summary>
    public void Fail(int position, string reason) => Failures[position] = reason;

    /// <summary>The finished store; the writer gives up ownership of it.</summary>
    public abstract SplitPixels Finish();

    protected int[] KeptPositions() => Enumerable.Range(0, Count).Where(p => !Failures.ContainsKey(p)).ToArray();

    protected IReadOnlyList<(int, string)> FailureList() => Failures.Select(f => (f.Key, f.Value)).ToList();

    public abstract void Dispose();
}

/// <summary>Images written straight into one uint8 tensor allocated at its final size.</summary>
internal sealed class MemorySplitWriter : SplitPixelWriter
{
    private Tensor? _images;
    private readonly PixelMemory _memory;

    public MemorySplitWriter(int count, ImagePipeline pipeline) : base(count, pipeline)
    {
        _images = empty(new long[] { count, 3, pipeline.Height, pipeline.Width }, ScalarType.Byte).DetachFromDisposeScope();
        _memory = PixelMemory.Of(_images);
    }

    public override void Write(int position, ReadOnlySpan<byte> pixels) => pixels.CopyTo(_memory.Item(position, ItemBytes));

    public override SplitPixels Finish()
    {
        var images = _images ?? throw new ObjectDisposedException(nameof(MemorySplitWriter));
        var kept = KeptPositions();
        if (kept.Length < Count)
        {
            // Moved down in place, then cut (a view: the storage is the same): a copy of the kept images would double the peak.
            for (int k = 0; k < kept.Length; k++)
                if (kept[k] != k) _memory.Item(kept[k], ItemBytes).CopyTo(_memory.Item(k, ItemBytes));
            using var all = images;
            images = all.narrow(0, 0, kept.Length).DetachFromDisposeScope();
        }
        _images = null;
        return new SplitPixels(new MemoryPixelStore(images), kept, FailureList(), Reused: false);
    }

    public override void Dispose()
    {
        _images?.Dispose();
        _images = null;
    }
}

/// <summary>
/// Images written into a disk cache file under a temporary name, moved to <c>path</c> when complete. A keyed file
/// stays for later fits on the same bytes; an unkeyed one (images that cannot be recognised without decoding them) is
/// deleted when the store closes.
/// </summary>
internal sealed class DiskSplitWriter : SplitPixelWriter
{
    private readonly string _path;
    private readonly string _temporary;
    private readonly bool _keyed;
    private readonly PixelCacheFile _layout;
    private readonly ulong[] _hashes;
    private readonly (int Width, int Height)[] _sizes;
    private readonly DiskPixelStoreFactory _stores;
    private SafeFileHandle? _file;

    /// <param name="path">The cache file's final path.</param>
    /// <param name="keyed">Keep the file for later fits (false: delete it when the store closes).</param>
    /// <param name="sizes">Each position's source image size.</param>
    /// <param name="stores">The key, count and size of the file, and how to open it as a store once finished.</param>
    public DiskSplitWriter(string path, bool keyed, (int, int)[] sizes, DiskPixelStoreFactory stores)
        : base(stores.Count, stores.Pipeline)
    {
        _path = path;
        _keyed = keyed;
        _sizes = sizes;
        _stores = stores;
        _layout = PixelCacheFile.Plan(new PixelCacheFile.Header(stores.Key, stores.Count, stores.Pipeline.Height, stores.Pipeline.Width));
        _hashes = new ulong[stores.Count];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _temporary = CacheFiles.TemporaryFor(path);
        try
        {
            // Exclusive: the open handle is what tells other processes' housekeeping that this build is alive.
            _file = File.OpenHandle(_temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.None, _layout.FileLength(0));
        }
        catch (IOException e) when (CacheFiles.IsDiskFull(e))
        {
            throw CacheFiles.DiskFull(Path.GetDirectoryName(path)!, _layout.FileLength(0), e);
        }
    }

    public override void Write(int position, ReadOnlySpan<byte> pixels)
    {
        _hashes[position] = PixelCacheFile.HashOf(pixels);
        try
        {
            RandomAccess.Write(_file ?? throw new ObjectDisposedException(nameof(DiskSplitWriter)), pixels, _layout.DataOffset + (long)position * ItemBytes);
        }
        catch (IOException e) when (CacheFiles.IsDiskFull(e))
        {
            throw CacheFiles.DiskFull(Path.GetDirectoryName(_path)!, _layout.FileLength(0), e);
        }
    }

    public override SplitPixels Finish()
    {
        var file = _file ?? throw new ObjectDisposedException(nameof(DiskSplitWriter));
        _layout.WriteTables(file, _hashes, _sizes, Enumerable.Range(0, Count).Select(p => !Failures.ContainsKey(p)).ToArray(),
            Failures.Select(f => new PixelCacheFile.FailedItem(f.Key, f.Value)).ToList());
        file.Dispose();
        try
        {
            File.Move(_temporary, _path, overwrite: true);
        }
        catch
        {
            // A cache that could not be put in place must not stay behind under its temporary name.
            Dispose();
            throw;
        }
        _file = null;
        return _stores.Open(_path, deleteOnClose: !_keyed) with { Reused = false };
    }

    public override void Dispose()
    {
        if (_file is null) return;
        _file.Dispose();
        _file = null;
        try
        {
            File.Delete(_temporary);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Opens a split's disk cache file as a store whose positions are named by <c>nameOf</c> in messages.</summary>
/// <param name="Key">The key the file must carry.</param>
/// <param name="Count">The positions it must hold.</param>
/// <param name="Pipeline">The size of its images.</param>
/// <param name="NameOf">How a position is named (the row it came from), for repairs that cannot decode a row again.</param>
/// <param name="Log">Where repairs are reported.</param>
internal sealed record DiskPixelStoreFactory(string Key, int Count, ImagePipeline Pipeline, Func<long, string> NameOf, Action<string> Log)
{
    /// <summary>The store of a finished file; null with the reason when the file is not a complete cache for <see cref="Key"/>.</summary>
    public SplitPixels? TryOpen(string path, bool deleteOnClose, out string? problem)
    {
        problem = null;
        if (!File.Exists(path)) return null;
        SafeFileHandle? file = null;
        bool readOnly = false;
        try
        {
            try
            {
                file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete,
                    deleteOnClose ? FileOptions.DeleteOnClose : FileOptions.None);
            }
            catch (Exception e) when (!deleteOnClose && (e is UnauthorizedAccessException || e is IOException && CacheFiles.IsReadOnlyFileSystem(e)))
            {
                // A cache on a read-only disk or in a folder this process may not write is still good to read.
                file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                readOnly = true;
                Log($"The disk cache '{path}' cannot be written ({e.Message}); reading it as it is.");
            }
            var (contents, why) = PixelCacheFile.Open(file, Key);
            if (contents is null || contents.Layout.Info.Count != Count)
            {
                problem = why ?? "it holds another number of images";
                file.Dispose();
                return null;
            }
            var failed = contents.Failed.ToDictionary(f => (int)f.Index, f => f.Reason);
            var kept = Enumerable.Range(0, Count).Where(p => !failed.ContainsKey(p)).ToArray();
            // A damaged image cannot be decoded again from a row of a view that is gone: repairing it fails, naming the row.
            var handle = file;
            var store = new DiskPixelStore(file, contents, kept.Select(p => (long)p).ToArray(), NameOf, new PixelDecoder(Pipeline), Log,
                readOnly ? null : (slot, pixels) =>
                {
                    PixelCacheFile.WriteBack(handle, Key, slot, pixels);
                    return true;
                });
            return new SplitPixels(store, kept, failed.OrderBy(f => f.Key).Select(f => (f.Key, f.Value)).ToList(), Reused: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            problem = e.Message;
            return null;
        }
    }

    /// <summary>The store of a file just written.</summary>
    public SplitPixels Open(string path, bool deleteOnClose) =>
        TryOpen(path, deleteOnClose, out string? problem) ?? throw new IOException($"The disk cache '{path}' written just now cannot be read back: {problem}.");
}
