using System.Runtime.InteropServices;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Keeps memory that libtorch frees for its next allocation instead of returning it to the kernel. glibc serves large
/// blocks (every activation tensor at photo sizes) with a fresh <c>mmap</c> and gives them back with <c>munmap</c>,
/// so each training step pays page faults to touch the same memory again; at 224 px they took a third of a CPU epoch.
/// With retention on, glibc's <c>mallopt</c> settings make it carve large blocks from its heap and never trim the heap,
/// so steps reuse pages, and libtorch is asked (before it first allocates) to back blocks of 2 MB and more with
/// transparent huge pages, so what does fault in takes one fault per 2 MB instead of one per 4 KB. The trade-off: the
/// process keeps its peak resident memory until it ends.
/// </summary>
/// <remarks>
/// Process-wide, as the allocator is: on by default wherever the package initializes TorchSharp (including the module
/// initializer that projects referencing the package get). Turn it off for a whole process with the environment
/// variable <see cref="EnvironmentVariable"/><c>=default</c>, or at any time with <see cref="Enabled"/> = false, which
/// puts back glibc's initial settings (libtorch reads its huge-page setting once, so that part stays until the process
/// ends). Other C libraries (musl) are left alone.
/// <para>glibc keeps freed memory fully only in its main arena, the one the process's main thread uses (a console
/// application's <c>Main</c>, where the command-line tool and the examples train); other threads' arenas hand blocks
/// over 64 MB back on free, where the huge pages still cut the faults 512-fold.</para>
/// </remarks>
public static class MemoryRetention
{
    /// <summary>Set to <c>default</c> (or <c>off</c>) to leave the C allocator's settings alone in this process.</summary>
    public const string EnvironmentVariable = "MLNET_FASTAI_MALLOC";

    // glibc's mallopt parameters (malloc.h) and initial values.
    private const int TrimThreshold = -1, MmapThreshold = -3, MmapMax = -4;
    private const int DefaultThreshold = 128 * 1024, DefaultMmapMax = 65536;

    private static readonly object Gate = new();
    private static bool _applied;
    private static bool _enabled;

    /// <summary>
    /// Whether freed memory is kept for reuse. Setting it applies at once; false restores glibc's initial settings
    /// (128 KiB mmap and trim thresholds). Always false where the C library is not glibc.
    /// </summary>
    public static bool Enabled
    {
        get
        {
            lock (Gate) return _enabled;
        }
        set
        {
            lock (Gate)
            {
                _applied = true;
                if (!OperatingSystem.IsLinux()) return;
                _enabled = value
                    ? Set(MmapMax, 0) && Set(TrimThreshold, int.MaxValue)
                    : !(Set(MmapMax, DefaultMmapMax) && Set(MmapThreshold, DefaultThreshold) && Set(TrimThreshold, DefaultThreshold));
            }
        }
    }

    /// <summary>Applies the process's setting once: on, unless <see cref="EnvironmentVariable"/> says otherwise.</summary>
    internal static void ApplyOnce()
    {
        lock (Gate)
        {
            if (_applied) return;
            string? setting = Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant();
            Enabled = setting is not ("default" or "off" or "0" or "false");
            // c10's allocator reads this from the C environment once, at its first allocation: .NET's own
            // Environment.SetEnvironmentVariable does not reach the C environment on Linux.
            if (_enabled && Environment.GetEnvironmentVariable(HugePagesVariable) is null) SetCEnvironment(HugePagesVariable, "1");
        }
    }

    /// <summary>libtorch's switch for transparent huge pages on its large CPU allocations.</summary>
    private const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    private static void SetCEnvironment(string name, string value)
    {
        try
        {
            setenv(name, value, 0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    private static bool Set(int parameter, int value)
    {
        try
        {
            return mallopt(parameter, value) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;  // not glibc
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
