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
    public virtual void Fail(int position, string reason) => Failures[position] = reason;

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
/// A split's images written into the slots of a shared <see cref="PixelPool"/> (the pool is its owner's to dispose).
/// Positions whose slot the pool already holds are never written: the decoder skips them (see <see cref="Settled"/>).
/// </summary>
internal sealed class PoolSplitWriter : SplitPixelWriter
{
    private readonly PixelPool _pool;
    private readonly long[] _slots;
    private readonly Func<long, string> _nameOfSlot;
    private readonly PixelPool.SlotWriter? _writer;
    private readonly Dictionary<long, int> _index;

    /// <param name="pool">The pool, open under its lock.</param>
    /// <param name="slots">The slot of each position.</param>
    /// <param name="sizes">The source size of each position's image.</param>
    /// <param name="nameOfSlot">How a slot's image is named in messages.</param>
    public PoolSplitWriter(PixelPool pool, long[] slots, (int Width, int Height)[] sizes, Func<long, string> nameOfSlot)
        : base(slots.Length, pool.Pipeline)
    {
        _pool = pool;
        _slots = slots;
        _nameOfSlot = nameOfSlot;
        var settled = pool.Contents.Settled();
        Settled = slots.Select(s => settled[s]).ToArray();
        var missing = Enumerable.Range(0, slots.Length).Where(p => !Settled[p]).DistinctBy(p => slots[p]).ToList();
        // A pool that holds everything asked of it may be open without its lock, or read-only: nothing is written then.
        _writer = missing.Count == 0 ? null : pool.Writer(missing.Select(p => slots[p]).ToArray(), missing.Select(p => sizes[p]).ToArray());
        _index = missing.Select((p, k) => (Slot: slots[p], k)).ToDictionary(x => x.Slot, x => x.k);
    }

    /// <summary>Which positions the pool already holds (or knows as undecodable): not to be decoded.</summary>
    public bool[] Settled { get; }

    public override void Write(int position, ReadOnlySpan<byte> pixels)
    {
        if (_index.TryGetValue(_slots[position], out int k)) _writer!.Write(k, pixels);
    }

    public override void Fail(int position, string reason)
    {
        base.Fail(position, reason);
        if (_index.TryGetValue(_slots[position], out int k)) _writer!.Fail(k, reason);
    }

    public override SplitPixels Finish()
    {
        if (_writer is not null) _pool.Commit(_writer);
        var (kept, failed) = _pool.Outcome(_slots, _writer);
        return new SplitPixels(_pool.Store(kept.Select(p => _slots[p]).ToArray(), _nameOfSlot), kept, failed, Reused: _writer is null);
    }

    public override void Dispose() { }
}

/// <summary>
/// Images written into a disk file for this fit only — images that cannot be recognised without decoding them (loaded
/// <c>MLImage</c>s), so no later fit could find them there — under a temporary name, moved to <c>path</c> when
/// complete and deleted when the store closes.
/// </summary>
internal sealed class DiskSplitWriter : SplitPixelWriter
{
    private const string Key = "this fit only";

    private readonly string _path;
    private readonly string _temporary;
    private readonly PixelCacheFile _layout;
    private readonly ulong[] _hashes;
    private readonly (int Width, int Height)[] _sizes;
    private readonly ImagePipeline _pipeline;
    private readonly Func<long, string> _nameOf;
    private readonly Action<string> _log;
    private SafeFileHandle? _file;

    /// <param name="path">The file's final path.</param>
    /// <param name="sizes">Each position's source image size.</param>
    /// <param name="pipeline">The size of its images.</param>
    /// <param name="nameOf">How a position is named (the row it came from), for repairs that cannot decode a row again.</param>
    /// <param name="log">Where repairs are reported.</param>
    public DiskSplitWriter(string path, (int, int)[] sizes, ImagePipeline pipeline, Func<long, string> nameOf, Action<string> log)
        : base(sizes.Length, pipeline)
    {
        _path = path;
        _sizes = sizes;
        _pipeline = pipeline;
        _nameOf = nameOf;
        _log = log;
        _layout = PixelCacheFile.Plan(new PixelCacheFile.Header(Key, sizes.Length, pipeline.Height, pipeline.Width));
        _hashes = new ulong[sizes.Length];
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
        var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.DeleteOnClose);
        var (contents, problem) = PixelCacheFile.Open(handle, Key);
        if (contents is null)
        {
            handle.Dispose();
            throw new IOException($"The disk cache '{_path}' written just now cannot be read back: {problem}.");
        }
        var kept = KeptPositions();
        // A damaged image cannot be decoded again from a row of a view that is gone: repairing it fails, naming the row.
        var store = new DiskPixelStore(handle, contents, kept.Select(p => (long)p).ToArray(), _nameOf, new PixelDecoder(_pipeline), _log,
            (slot, pixels) =>
            {
                PixelCacheFile.WriteBack(handle, Key, slot, pixels);
                return true;
            });
        return new SplitPixels(store, kept, FailureList(), Reused: false);
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
