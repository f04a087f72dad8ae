namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// The right to change a disk cache file — create it, fill its slots, rewrite its tables — held by one process (and
/// one thread) at a time through an exclusively opened <c>.lock</c> file beside it. Reading pixels needs no lock:
/// writers only add slots and rewrite the tables, and a reader keeps the tables it read.
/// </summary>
/// <remarks>
/// The lock file is never deleted by its holder (deleting it on release would let a waiter lock a file no longer in
/// the folder while a newcomer locks a new one); housekeeping removes the locks of caches that are gone.
/// </remarks>
internal sealed class CacheFileLock : IDisposable
{
    public const string Suffix = ".lock";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly FileStream? _file;

    private CacheFileLock(FileStream? file) => _file = file;

    /// <summary>No lock: for reading a cache that already holds everything asked of it.</summary>
    public static CacheFileLock None => new(null);

    /// <summary>
    /// False when the lock file cannot be created (a read-only folder or disk), or when no lock was taken (a reader
    /// that needs nothing written): the holder must not write.
    /// </summary>
    public bool Held => _file is not null;

    /// <summary>
    /// Takes the lock of <paramref name="cachePath"/>, waiting (and saying once that it waits) while another process or
    /// thread holds it.
    /// </summary>
    public static CacheFileLock Acquire(string cachePath, Action<string> log, CancellationToken cancellation) => Take(cachePath, log, cancellation, wait: true)!;

    /// <summary>The lock when nobody holds it now; null when somebody does.</summary>
    public static CacheFileLock? TryAcquire(string cachePath) => Take(cachePath, _ => { }, CancellationToken.None, wait: false);

    private static CacheFileLock? Take(string cachePath, Action<string> log, CancellationToken cancellation, bool wait)
    {
        string path = cachePath + Suffix;
        bool told = false;
        while (true)
        {
            try
            {
                // Read access is enough to lock, so a lock file another user created still locks.
                return new CacheFileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.None));
            }
            catch (IOException e) when (IsSharingViolation(e))
            {
                if (!wait) return null;
                if (!told) log($"Waiting for another process or loader to finish writing the disk cache '{cachePath}'.");
                told = true;
                if (cancellation.WaitHandle.WaitOne(Poll)) cancellation.ThrowIfCancellationRequested();
            }
            catch (Exception e) when (e is UnauthorizedAccessException || e is IOException && CacheFiles.IsReadOnlyFileSystem(e))
            {
                return new CacheFileLock(null);
            }
        }
    }

    /// <summary>
    /// Whether an open failed because another handle holds the file exclusively: flock's EWOULDBLOCK (11 on Linux, 35
    /// on macOS), Windows' sharing violation.
    /// </summary>
    public static bool IsSharingViolation(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) == 0x20
        : e.HResult == (OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsFreeBSD() ? 35 : 11) || (e.HResult & 0xFFFF) == 0x20;

    public void Dispose() => _file?.Dispose();
}
