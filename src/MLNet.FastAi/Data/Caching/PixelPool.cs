using Microsoft.Win32.SafeHandles;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// The disk cache of a dataset's images at one pipeline: one file whose slots are every image of the dataset (all its
/// splits, in path order), filled as splits need them. A split indexes into it, so another split of the same images —
/// the new random validation split of an unseeded run — reuses what earlier runs decoded and decodes only the images
/// never needed at this pipeline before. A pool that must be created or filled is opened under the file's
/// <see cref="CacheFileLock"/>, held until disposed: whoever writes it does so alone, and a second process waits and
/// then finds the images there; one that already holds what is asked of it is read without the lock.
/// </summary>
internal sealed class PixelPool : IDisposable
{
    private readonly string _path;
    private readonly string _key;
    private readonly ImagePipeline _pipeline;
    private readonly Action<string> _log;
    private readonly CacheFileLock _lock;
    private SafeFileHandle? _file;
    private string? _temporary;

    private readonly bool _canStream;

    private PixelPool(string path, string key, ImagePipeline pipeline, Action<string> log, CacheFileLock fileLock, bool canStream)
    {
        _canStream = canStream;
        _path = path;
        _key = key;
        _pipeline = pipeline;
        _log = log;
        _lock = fileLock;
    }

    /// <summary>The size of the pool's images.</summary>
    public ImagePipeline Pipeline => _pipeline;

    /// <summary>
    /// What a split of the given slots has once its images are in: the positions whose slot holds pixels, and those
    /// whose image could not be decoded, with the reason (as recorded, or as <paramref name="writer"/> met it).
    /// </summary>
    public (int[] Kept, List<(int Position, string Reason)> Failed) Outcome(long[] slots, SlotWriter? writer)
    {
        var reasons = Contents.Failed.ToDictionary(f => f.Index, f => f.Reason);
        if (writer is not null)
            foreach (var (k, reason) in writer.Failures) reasons[writer.Slots[k]] = reason;
        var kept = Enumerable.Range(0, slots.Length).Where(p => Contents.Filled[slots[p]]).ToArray();
        var failed = Enumerable.Range(0, slots.Length).Where(p => !Contents.Filled[slots[p]])
            .Select(p => (p, reasons.GetValueOrDefault(slots[p], "not decoded"))).ToList();
        return (kept, failed);
    }

    /// <summary>
    /// The first position (in split order) whose image the pool records as undecodable — from a run that skipped bad
    /// images; failing on it is still this run's choice — or null.
    /// </summary>
    public (int Position, string Reason)? FirstRecordedFailure(long[] slots)
    {
        if (Contents.Failed.Count == 0) return null;
        var failed = Contents.Failed.ToDictionary(f => f.Index, f => f.Reason);
        for (int p = 0; p < slots.Length; p++)
            if (failed.TryGetValue(slots[p], out string? reason)) return (p, reason);
        return null;
    }

    /// <summary>The file of a dataset's images at one pipeline; the name carries the key.</summary>
    public static string FileName(string key) => $"images-{key[..24]}.pixels";

    /// <summary>The tables as they stand (the file's, plus what this process added).</summary>
    public PixelCacheFile.Contents Contents { get; private set; } = null!;

    /// <summary>True when the file could be read but not written: images it lacks cannot be added.</summary>
    public bool ReadOnly { get; private set; }

    /// <summary>True when no usable file was there and this pool starts empty.</summary>
    public bool New => _temporary is not null;

    /// <summary>
    /// Whether the file at <paramref name="path"/> holds, or knows as undecodable, every slot in <paramref name="slots"/>.
    /// Read without the lock, so a hint for choosing where a split goes; <see cref="Open"/> decides.
    /// </summary>
    public static bool Covers(string path, string key, long slotCount, IEnumerable<long> slots)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var (contents, _) = PixelCacheFile.Open(file, key);
            if (contents is null || contents.Layout.Info.Count != slotCount) return false;
            var settled = contents.Settled();
            return slots.All(s => settled[s]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Opens the pool of <paramref name="slotCount"/> slots at <paramref name="path"/>. When it already holds every slot
    /// in <paramref name="needed"/> it is opened without waiting for the lock (nothing will be written but repairs);
    /// otherwise under the lock, and when there is no complete file for <paramref name="key"/> there (or it is damaged:
    /// said in the log), a new one is started under a temporary name.
    /// </summary>
    public static PixelPool Open(string path, string key, long slotCount, IReadOnlyCollection<long> needed, ImagePipeline pipeline, Action<string> log,
        CancellationToken cancellation, bool canStream = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var reader = new PixelPool(path, key, pipeline, log, CacheFileLock.None, canStream);
        // A torn read (another process rewriting the tables) fails the checksum and lands in the locked path below.
        if (reader.TryOpenExisting(slotCount, writable: true, quiet: true) is null && reader._file is not null && Holds(reader.Contents, needed)) return reader;
        reader.Dispose();

        var pool = new PixelPool(path, key, pipeline, log, CacheFileLock.Acquire(path, log, cancellation), canStream);
        try
        {
            if (pool.TryOpenExisting(slotCount, writable: pool._lock.Held, quiet: false) is { } problem)
                log($"The disk cache '{path}' cannot be used ({problem}); starting it again with the {needed.Count:N0} images needed now.");
            if (pool._file is null) pool.StartNew(slotCount);
            return pool;
        }
        catch
        {
            pool.Dispose();
            throw;
        }
    }

    private static bool Holds(PixelCacheFile.Contents contents, IEnumerable<long> slots)
    {
        var settled = contents.Settled();
        return slots.All(s => settled[s]);
    }

    /// <summary>Opens the finished file; returns why it cannot be used, or null (also when there is none).</summary>
    /// <param name="slotCount">The slots it must have.</param>
    /// <param name="writable">Try to open it for writing (else, or when that is not allowed, for reading only).</param>
    /// <param name="quiet">Say nothing of a read-only file (a first look that may be repeated under the lock).</param>
    private string? TryOpenExisting(long slotCount, bool writable, bool quiet)
    {
        if (!File.Exists(_path)) return null;
        SafeFileHandle? file = null;
        try
        {
            try
            {
                file = writable
                    ? File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete)
                    : throw new UnauthorizedAccessException($"its lock file '{_path}{CacheFileLock.Suffix}' cannot be created");
            }
            catch (Exception e) when (e is UnauthorizedAccessException || e is IOException && CacheFiles.IsReadOnlyFileSystem(e))
            {
                // A cache on a read-only disk, or one this process may not write, is still good to read.
                file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                ReadOnly = true;
                if (!quiet) _log($"The disk cache '{_path}' cannot be written by this process ({e.Message}); reading it as it is.");
            }
            var (contents, why) = PixelCacheFile.Open(file, _key);
            if (contents is null || contents.Layout.Info.Count != slotCount)
            {
                file.Dispose();
                ReadOnly = false;
                return why ?? "it holds another number of images";
            }
            _file = file;
            Contents = contents;
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            ReadOnly = false;
            return e.Message;
        }
    }

    private void StartNew(long slotCount)
    {
        if (!_lock.Held)
            throw new ImageCacheUnavailableException($"The disk cache's folder '{Path.GetDirectoryName(_path)}' cannot be written, and it holds no cache of " +
                $"these images. {CachePolicy.UnwritableAdvice(_canStream)}");
        var layout = PixelCacheFile.Plan(new PixelCacheFile.Header(_key, slotCount, _pipeline.Height, _pipeline.Width));
        _temporary = CacheFiles.TemporaryFor(_path);
        // Exclusive: the open handle is what tells other processes' housekeeping that this build is alive. Not
        // preallocated: slots no split has needed yet stay holes.
        _file = File.OpenHandle(_temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        Contents = new PixelCacheFile.Contents(layout, new ulong[slotCount], new (int, int)[slotCount], new bool[slotCount], []);
    }

    /// <summary>A writer of the given slots (position k of the writer is slot <paramref name="slots"/>[k]).</summary>
    public SlotWriter Writer(long[] slots, (int Width, int Height)[] sourceSizes)
    {
        if (ReadOnly) throw new ImageCacheUnavailableException($"The disk cache '{_path}' is read-only and lacks some of these images. {CachePolicy.UnwritableAdvice(_canStream)}");
        return new SlotWriter(this, slots, sourceSizes);
    }

    /// <summary>Records what <paramref name="writer"/> wrote: the tables, and a new file moved into place.</summary>
    public void Commit(SlotWriter writer)
    {
        var file = _file ?? throw new ObjectDisposedException(nameof(PixelPool));
        var contents = Contents;
        for (int k = 0; k < writer.Slots.Length; k++)
        {
            long slot = writer.Slots[k];
            contents.Sizes[slot] = writer.SourceSizes[k];
            if (writer.Written[k]) contents.Filled[slot] = true;
        }
        // Only what the file itself says is recorded: a file that could not be read now may be readable next run.
        foreach (var (k, reason) in writer.Failures.Where(f => !ImageHeaders.IsPassing(f.Reason)))
            contents.Failed.Add(new PixelCacheFile.FailedItem(writer.Slots[k], reason));
        try
        {
            contents.Layout.WriteTables(file, contents);
        }
        catch (IOException e) when (CacheFiles.IsDiskFull(e))
        {
            throw CacheFiles.DiskFull(Path.GetDirectoryName(_path)!, writer.Bytes, e);
        }
        if (_temporary is null) return;
        file.Dispose();
        _file = null;
        File.Move(_temporary, _path, overwrite: true);
        _temporary = null;
        _file = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>
    /// A store of the filled slots <paramref name="slots"/> (one per image of the split, in order), through a handle of
    /// its own that outlives this pool and its lock. Its tables are read again through that handle, so that they
    /// describe the file it reads even if another process replaced the file meanwhile.
    /// </summary>
    public DiskPixelStore Store(long[] slots, Func<long, string> sourceOfSlot)
    {
        if (New) throw new InvalidOperationException("A new disk cache must be committed before it is read.");
        var handle = File.OpenHandle(_path, FileMode.Open, ReadOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var (contents, problem) = PixelCacheFile.Open(handle, _key);
        if (contents is null || contents.Layout.Info.Count != Contents.Layout.Info.Count || slots.Any(s => !contents.Filled[s]))
        {
            handle.Dispose();
            throw new IOException($"The disk cache '{_path}' changed while it was being opened ({problem ?? "another process replaced it"}); run again.");
        }
        string path = _path, key = _key;
        // A repair never waits for another process's build (that could stall a batch for minutes): when the lock is
        // taken, the repaired image is used but written back by a later run.
        Func<long, byte[], bool>? writeBack = ReadOnly ? null : (slot, pixels) =>
        {
            using var fileLock = CacheFileLock.TryAcquire(path);
            if (fileLock?.Held != true) return false;
            PixelCacheFile.WriteBack(handle, key, slot, pixels);
            return true;
        };
        return new DiskPixelStore(handle, contents, slots, sourceOfSlot, new PixelDecoder(_pipeline), _log, writeBack);
    }

    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
        if (_temporary is not null)
        {
            // A cache that was not committed must not stay behind under its temporary name.
            try
            {
                File.Delete(_temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            _temporary = null;
        }
        _lock.Dispose();
    }

    /// <summary>Writes decoded images into their slots, from any number of threads (each position once).</summary>
    internal sealed class SlotWriter : IPixelSink
    {
        private readonly PixelPool _pool;

        public SlotWriter(PixelPool pool, long[] slots, (int Width, int Height)[] sourceSizes)
        {
            _pool = pool;
            Slots = slots;
            SourceSizes = sourceSizes;
            Written = new bool[slots.Length];
        }

        public long[] Slots { get; }

        public (int Width, int Height)[] SourceSizes { get; }

        public bool[] Written { get; }

        public List<(int Position, string Reason)> Failures { get; } = new();

        public long Bytes => Slots.Length * _pool.Contents.Layout.ItemBytes;

        public void Write(int position, ReadOnlySpan<byte> pixels)
        {
            var contents = _pool.Contents;
            long slot = Slots[position];
            try
            {
                RandomAccess.Write(_pool._file ?? throw new ObjectDisposedException(nameof(PixelPool)), pixels,
                    contents.Layout.DataOffset + slot * contents.Layout.ItemBytes);
            }
            catch (IOException e) when (CacheFiles.IsDiskFull(e))
            {
                throw CacheFiles.DiskFull(Path.GetDirectoryName(_pool._path)!, Bytes, e);
            }
            // Distinct slots per position: the parallel writers never share an element.
            contents.Hashes[slot] = PixelCacheFile.HashOf(pixels);
            Written[position] = true;
        }

        public void Fail(int position, string reason)
        {
            lock (Failures) Failures.Add((position, reason));
        }
    }
}
