using MLNet.FastAi.Data.Download;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// The disk cache folder's files: how temporaries are named, what a disk-space or read-only error means, and the
/// housekeeping that keeps the folder bounded — builds that died are removed, and the least recently used caches go
/// once the folder is over its limit. A file some process has open is never removed: .NET locks files on open
/// (exclusively for a build's temporary and a <see cref="CacheFileLock"/>, shared for a cache being read), so an
/// exclusive open tells an unused one. Sizes are files' lengths: a cache whose slots are not all filled takes less
/// disk than that where the file system keeps holes.
/// </summary>
internal static class CacheFiles
{
    /// <summary>The advice of every refusal for disk space, upfront or while writing; images from an ML.NET column cannot be streamed.</summary>
    public static string DiskAdvice(bool canStream = true) =>
        $"Set {OptionKey.CacheFolder} to a folder on a larger disk, or {OptionKey.Cache.Set(canStream ? ImageCacheMode.Stream : ImageCacheMode.Memory)}.";

    private const string TemporarySuffix = ".tmp";

    // A file written this recently may belong to a build between its steps (the lock is taken just after creating the
    // file, and released just before the rename): housekeeping leaves it alone unless its process is gone.
    private static readonly TimeSpan Recent = TimeSpan.FromMinutes(10);

    /// <summary>A new temporary name for the cache file <paramref name="path"/>, unique to this process and build.</summary>
    public static string TemporaryFor(string path) => $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}{TemporarySuffix}";

    /// <summary>Whether an I/O error says the disk (or the user's quota) is full: ENOSPC, EDQUOT, Windows' ERROR_DISK_FULL or ERROR_HANDLE_DISK_FULL.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is IOException && (OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 0x70 or 0x27 : e.HResult is 28 or 122
            || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("quota exceeded", StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether an I/O error says the file system is mounted read-only (EROFS).</summary>
    public static bool IsReadOnlyFileSystem(Exception e) =>
        e is IOException && (e.HResult is 30 || e.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase));

    /// <summary>The refusal when the disk fills while a cache is written (another process took the space checked upfront).</summary>
    public static ImageCacheUnavailableException DiskFull(string folder, long bytes, Exception inner) =>
        new($"The disk cache's folder '{folder}' ran out of space while {Bytes.Format(bytes)} of decoded images were written (something else " +
            $"filled the disk meanwhile); what was written is not kept as cached. {DiskAdvice()}", inner);

    /// <summary>
    /// Removes from <paramref name="folder"/> the temporaries of builds that ended without finishing, then, while the
    /// caches there take more than <paramref name="sizeLimit"/> bytes, the least recently used ones — never one in
    /// <paramref name="keep"/> nor one a process has open. Says in one line what it removed.
    /// </summary>
    public static void Tidy(string folder, long sizeLimit, IReadOnlyCollection<string> keep, Action<string> log)
    {
        if (!Directory.Exists(folder)) return;
        int temporaries = 0, caches = 0;
        long freed = 0;
        try
        {
            foreach (var temporary in Directory.EnumerateFiles(folder, $"*.pixels.*{TemporarySuffix}"))
                if ((!OwnerAlive(temporary) || !WrittenRecently(temporary)) && TryDeleteUnused(temporary, out long bytes)) { temporaries++; freed += bytes; }

            var kept = keep.Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal);
            var files = new DirectoryInfo(folder).EnumerateFiles("*.pixels").ToList();
            long total = files.Sum(f => f.Length);
            foreach (var old in files.Where(f => !kept.Contains(f.FullName) && DateTime.UtcNow - f.LastWriteTimeUtc > Recent).OrderBy(f => f.LastWriteTimeUtc))
            {
                if (total <= sizeLimit) break;
                if (!TryDeleteUnused(old.FullName, out long bytes)) continue;
                total -= bytes;
                freed += bytes;
                caches++;
            }
            // Locks of caches that are gone (removed here, by ClearCache or by hand), unless a build holds one or may be
            // about to: a lock file deleted between another process's open and its flock would let two builders in.
            foreach (var orphan in Directory.EnumerateFiles(folder, $"*.pixels{CacheFileLock.Suffix}"))
                if (!File.Exists(orphan[..^CacheFileLock.Suffix.Length]) && !WrittenRecently(orphan))
                    TryDeleteUnused(orphan, out _);
            if (total > sizeLimit)
                log($"The disk cache folder '{folder}' holds {Bytes.Format(total)}, over its limit of {Bytes.Format(sizeLimit)} " +
                    $"({OptionKey.CacheSizeLimit}), in caches that are in use.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"The disk cache folder '{folder}' could not be tidied ({e.Message}).");
        }
        if (temporaries + caches > 0)
            log($"Disk cache folder '{folder}': removed {(temporaries > 0 ? $"{temporaries} unfinished cache(s) of builds that ended" : "")}" +
                $"{(temporaries > 0 && caches > 0 ? " and " : "")}{(caches > 0 ? $"{caches} least recently used cache(s) over the limit" : "")}, {Bytes.Format(freed)}.");
    }

    /// <summary>Records that a cache was used now, so that it is the last to go.</summary>
    public static void Touch(string path)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only cache keeps its date; it is not this process's to remove either.
        }
    }

    private static bool WrittenRecently(string path) => DateTime.UtcNow - File.GetLastWriteTimeUtc(path) < Recent;

    /// <summary>Whether the process whose id the temporary's name carries (see <see cref="TemporaryFor"/>) still runs.</summary>
    private static bool OwnerAlive(string temporary)
    {
        var parts = Path.GetFileName(temporary).Split('.');
        if (parts.Length < 4 || !int.TryParse(parts[^3], out int pid)) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Deletes the file when no process has it open; false when one does, or it cannot be deleted.</summary>
    private static bool TryDeleteUnused(string path, out long bytes)
    {
        bytes = 0;
        try
        {
            using (var exclusive = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            {
                bytes = exclusive.Length;
                // Unix removes a file while it is held, so no other process can open it in between; Windows cannot.
                if (!OperatingSystem.IsWindows()) File.Delete(path);
            }
            if (OperatingSystem.IsWindows()) File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
