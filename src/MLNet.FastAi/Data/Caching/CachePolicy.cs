using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Download;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Internal;

using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// Chooses, split by split, where decoded images live (<see cref="ImageCacheMode"/>), and says why in one line: memory
/// while the decoded sets fit the budget, else a disk cache when its folder has room (or already holds this split),
/// else streaming. Forced choices are checked too: memory against what the process may still use, disk against the
/// folder's free space, so a configuration that cannot fit is refused with a message instead of ending in the kernel's
/// OOM killer or a full disk.
/// </summary>
internal sealed class CachePolicy
{
    private readonly ImageCacheMode _mode;
    private readonly string _budgetReason;
    private long _heldInMemory;

    public CachePolicy(ImageDataOptions options)
    {
        _mode = options.Cache;
        CanStream = options.CanStream;
        Folder = Path.GetFullPath(options.CacheFolder ?? DefaultFolder());
        var available = AvailableMemory.Read();
        if (options.MemoryBudget is { } budget)
        {
            Budget = budget;
            _budgetReason = OptionKey.MemoryBudget.ToString();
        }
        else if (available is { } a)
        {
            Budget = a.Bytes / 4;
            _budgetReason = $"a quarter of the {Bytes.Format(a.Bytes)} available ({a.Source})";
        }
        else
        {
            Budget = 2L << 30;
            _budgetReason = "a fixed 2 GiB: this system does not say how much memory is available";
        }
    }

    /// <summary>Whether the images can be decoded every epoch instead (files can; an ML.NET column's cannot).</summary>
    public bool CanStream { get; }

    /// <summary>The advice when the cache folder cannot be written.</summary>
    public static string UnwritableAdvice(bool canStream) =>
        $"Set {OptionKey.CacheFolder} to a folder this process can write, or {OptionKey.Cache.Set(canStream ? ImageCacheMode.Stream : ImageCacheMode.Memory)}.";

    /// <summary>The disk cache's folder.</summary>
    public string Folder { get; }

    /// <summary>The most bytes of decoded images <see cref="ImageCacheMode.Auto"/> keeps in memory.</summary>
    public long Budget { get; }

    /// <summary>The default cache folder: <c>image-cache</c> in fastai's home (<c>FASTAI_HOME</c>, else <c>~/.fastai</c>).</summary>
    public static string DefaultFolder() => Path.Combine(DatasetCacheLayout.ResolveHome(null), "image-cache");

    /// <summary>
    /// The mode for a split of <paramref name="count"/> images decoded by <paramref name="pipeline"/>, and the reason
    /// (for the log line). <paramref name="diskCacheExists"/> reports whether a complete cache of this split is already
    /// in <see cref="Folder"/> (asked only when it matters).
    /// </summary>
    /// <exception cref="InsufficientMemoryException">A forced mode cannot fit.</exception>
    public (ImageCacheMode Mode, string Reason) Choose(string splitName, long count, ImagePipeline pipeline, Func<bool> diskCacheExists)
    {
        long bytes = count * pipeline.PixelCount;
        string size = $"{count:N0} images × 3×{pipeline.Height}×{pipeline.Width} = {Bytes.Format(bytes)}";
        switch (_mode)
        {
            case ImageCacheMode.Memory:
                RefuseIfMemoryShort(splitName, bytes, size);
                _heldInMemory += bytes;
                return (ImageCacheMode.Memory, $"{size}; asked for ({OptionKey.Cache})");
            case ImageCacheMode.Disk:
                if (!diskCacheExists())
                {
                    RefuseIfNotWritable(splitName);
                    RefuseIfDiskShort(splitName, bytes, size);
                }
                return (ImageCacheMode.Disk, $"{size}; asked for ({OptionKey.Cache})");
            case ImageCacheMode.Stream:
                return (ImageCacheMode.Stream, $"{size}; asked for ({OptionKey.Cache})");
        }
        if (_heldInMemory + bytes <= Budget && !MemoryShort(bytes))
        {
            _heldInMemory += bytes;
            return (ImageCacheMode.Memory, $"{size}, within the memory budget of {Bytes.Format(Budget)} ({_budgetReason})");
        }
        string over = $"{size}, more than the memory budget of {Bytes.Format(Budget)} ({_budgetReason}) allows" +
                      (_heldInMemory > 0 ? $" beside the {Bytes.Format(_heldInMemory)} already held" : "");
        if (diskCacheExists()) return (ImageCacheMode.Disk, $"{over}; a disk cache of these images exists");
        if (WriteProblem(Folder) is { } problem)
            return (ImageCacheMode.Stream, $"{over}, and the disk cache's folder cannot be written ({problem}): decoding every epoch");
        long free = FreeSpace(Folder);
        if (free >= bytes + bytes / 20) return (ImageCacheMode.Disk, $"{over}; the disk cache's folder has {Bytes.Format(free)} free");
        return (ImageCacheMode.Stream, $"{over}, and the disk cache's folder has only {Bytes.Format(free)} free: decoding every epoch");
    }

    /// <summary>
    /// Refuses, before any split is decoded, a forced mode that cannot hold all of them: memory for the splits'
    /// images together, disk space for those not cached yet. (<see cref="Choose"/> then checks each split again.)
    /// </summary>
    /// <exception cref="InsufficientMemoryException">Memory is forced and the splits cannot fit.</exception>
    /// <exception cref="ImageCacheUnavailableException">Disk is forced and the folder cannot be written or is too small.</exception>
    public void RefuseUpfront(IReadOnlyList<(string Name, long Count, ImagePipeline Pipeline, Func<bool> Cached)> splits)
    {
        if (_mode is not (ImageCacheMode.Memory or ImageCacheMode.Disk) || splits.Count == 0) return;
        var needed = _mode == ImageCacheMode.Disk ? splits.Where(s => !s.Cached()).ToList() : splits.ToList();
        if (needed.Count == 0) return;
        long bytes = needed.Sum(s => s.Count * s.Pipeline.PixelCount);
        string names = string.Join(" and ", needed.Select(s => s.Name));
        string size = $"{needed.Sum(s => s.Count):N0} images, {Bytes.Format(bytes)}";
        if (_mode == ImageCacheMode.Memory) RefuseIfMemoryShort(names, bytes, size);
        else
        {
            RefuseIfNotWritable(names);
            RefuseIfDiskShort(names, bytes, size);
        }
    }

    /// <summary>
    /// The mode for a one-off split (images to predict): memory when it fits the budget, else streaming; never the
    /// disk, and nothing counted against the budget of the splits the loaders keep.
    /// </summary>
    public (ImageCacheMode Mode, string Reason) ChooseForOneOff(long count, ImagePipeline pipeline)
    {
        long bytes = count * pipeline.PixelCount;
        bool memory = _mode != ImageCacheMode.Stream && bytes <= Budget;
        return (memory ? ImageCacheMode.Memory : ImageCacheMode.Stream, $"{count:N0} images to predict, {Bytes.Format(bytes)}");
    }

    /// <summary>True when <paramref name="bytes"/> would take more than 80% of what the process may still use.</summary>
    private static bool MemoryShort(long bytes) => AvailableMemory.Read() is { } available && bytes > available.Bytes * 8 / 10;

    private void RefuseIfMemoryShort(string splitName, long bytes, string size)
    {
        if (AvailableMemory.Read() is not { } available) return;
        // Training needs room beside the images: a ResNet batch's activations at photo sizes take gigabytes.
        if (!MemoryShort(bytes)) return;
        throw new OptionException(OptionKey.Cache, ImageCacheMode.Memory,
            OptionText.Concat($"Keeping the {splitName} images in memory needs {size}, but this process may use only {Bytes.Format(available.Bytes)} more ",
            $"({available.Source}). Set {OptionKey.Cache} to Disk (decoded once into {Folder}){(CanStream ? " or Stream (decoded every epoch)" : "")}, ",
            $"or a smaller {OptionKey.ImageSize}/{OptionKey.ItemSize}."), fits: ImageCacheMode.Disk);
    }

    private void RefuseIfNotWritable(string splitName)
    {
        if (WriteProblem(Folder) is not { } problem) return;
        throw new ImageCacheUnavailableException(
            $"The disk cache of the {splitName} images cannot be written to its folder: {problem.TrimEnd('.')}. " +
            UnwritableAdvice(CanStream));
    }

    /// <summary>
    /// Why a new cache file cannot be created in <paramref name="folder"/> (read-only disk, no permission, a file in
    /// the way), found by creating one; null when it can. The folder is created, as the cache would create it.
    /// </summary>
    private static string? WriteProblem(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            using var probe = new FileStream(Path.Combine(folder, $".write-check-{Guid.NewGuid():N}"), FileMode.CreateNew, FileAccess.Write,
                FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    private void RefuseIfDiskShort(string splitName, long bytes, string size)
    {
        long free = FreeSpace(Folder);
        if (free >= bytes + bytes / 20) return;
        throw new ImageCacheUnavailableException(
            $"The disk cache of the {splitName} images needs {size}, but its folder '{Folder}' has {Bytes.Format(free)} free. {CacheFiles.DiskAdvice(CanStream)}");
    }

    /// <summary>Free bytes on the disk that holds <paramref name="folder"/> (or its nearest existing parent).</summary>
    private static long FreeSpace(string folder)
    {
        string? existing = folder;
        while (existing is not null && !Directory.Exists(existing)) existing = Path.GetDirectoryName(existing);
        try
        {
            return existing is null ? 0 : new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return 0;
        }
    }
}
