using System.Runtime.InteropServices;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Keeps memory that libtorch frees for its next allocation instead of returning it to the kernel. glibc serves large
/// blocks (every activation tensor at photo sizes) with a fresh <c>mmap</c> and gives them back with <c>munmap</c>,
/// so each training step pays page faults to touch the same memory again; at 224 px they took a third of a CPU epoch.
/// With retention on, glibc's <c>mallopt</c> settings make it carve large blocks from its heap and never trim the heap,
/// so steps reuse pages. Measured on a 2-core CPU at 224 px: ResNet-18 steps 1.5× faster (training and inference).
/// The trade-off: the process keeps what its heap grew to until it ends, and the heap grows beyond the working set,
/// because libtorch allocates with <c>posix_memalign</c>, which asks glibc for a little more than a tensor needs, so a
/// freed block of one tensor's exact size does not serve the next tensor of that size until the heap has slack:
/// training ResNet-18 at 224 px, batch 64, settled at 3.5 GB of resident memory after five epochs, against 1.8 GB
/// without retention.
/// </summary>
/// <remarks>
/// Process-wide, as the allocator is: on by default wherever the package initializes TorchSharp (including the module
/// initializer that projects referencing the package get). Turn it off for a whole process with the environment
/// variable <see cref="EnvironmentVariable"/><c>=default</c>, which leaves glibc exactly as it starts (self-tuning
/// thresholds), or at any time with <see cref="Enabled"/> = false, which gives the kept memory back. Where resident
/// memory must stay flat over long runs (a memory limit, a shared machine), <see cref="MemoryRetentionMode.Release"/>
/// (<see cref="EnvironmentVariable"/><c>=release</c>) hands every block from 1 MiB up back at once, at the cost of
/// page faults every step: training ResNet-18 at 224 px, batch 64, from streamed photos peaked at 1.8 GiB whatever the
/// number of photos, against 2.2–2.6 GiB with glibc's default and 2.6–3.3 GiB retained, at about two thirds of the
/// speed with retention. Other C libraries (musl) are left alone.
/// <para>glibc keeps freed memory fully only in its main arena, the one the process's main thread uses (a console
/// application's <c>Main</c>, where the command-line tool and the examples train); other threads' arenas still hand
/// blocks over 64 MB back on free.</para>
/// <para>libtorch's own switch for transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>) was measured too: alone it
/// gave 1.1×; with retention it gave nothing more and its 2 MB alignment grew the heap by another 2 GB, so it is left
/// to the user.</para>
/// </remarks>
public static class MemoryRetention
{
    /// <summary>
    /// Set to <c>default</c> (or <c>off</c>) to leave the C allocator's settings alone in this process, or to
    /// <c>release</c> for <see cref="MemoryRetentionMode.Release"/>. Unset, <c>jemalloc</c> or <c>glibc</c>: retain; the
    /// command-line tool trains under jemalloc where it is installed unless this names another setting than
    /// <c>jemalloc</c>.
    /// </summary>
    public const string EnvironmentVariable = "MLNET_FASTAI_MALLOC";

    /// <summary>The <see cref="EnvironmentVariable"/> setting, lower case; empty when unset.</summary>
    internal static string Configured => Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant() ?? "";

    /// <summary>Whether the setting leaves a program free to run under jemalloc (unset, or <c>jemalloc</c>).</summary>
    internal static bool AllowsJemalloc => Configured is "" or "jemalloc";

    // glibc's mallopt parameters (malloc.h) and initial values.
    private const int TrimThreshold = -1, MmapThreshold = -3, MmapMax = -4;
    private const int DefaultMmapMax = 65536;
    // DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: the highest mmap threshold glibc's dynamic tuning raises itself to.
    private const int TunedMmapThreshold = 32 << 20;
    // Release mode: blocks from 1 MiB up (every activation at photo sizes, none of a decoder's small buffers) get
    // mappings of their own, and heaps give back any free top over glibc's initial 128 KiB.
    private const int ReleaseMmapThreshold = 1 << 20, ReleaseTrimThreshold = 128 << 10;

    private static readonly object Gate = new();
    private static bool _applied;
    private static MemoryRetentionMode _mode = MemoryRetentionMode.Default;

    /// <summary>
    /// Whether freed memory is kept for reuse (<see cref="Mode"/> is <see cref="MemoryRetentionMode.Retain"/>).
    /// Setting true retains; setting false after it was on returns to glibc's usual behaviour
    /// (<see cref="MemoryRetentionMode.Default"/>), and otherwise changes nothing (<see cref="MemoryRetentionMode.Release"/>
    /// stays). Always false where the C library is not glibc.
    /// </summary>
    public static bool Enabled
    {
        get => Mode == MemoryRetentionMode.Retain;
        set
        {
            lock (Gate)
            {
                if (value) Mode = MemoryRetentionMode.Retain;
                else if (_mode == MemoryRetentionMode.Retain) Mode = MemoryRetentionMode.Default;
                else _applied = true;
            }
        }
    }

    /// <summary>
    /// How the C allocator treats what libtorch frees; setting it applies at once. Leaving
    /// <see cref="MemoryRetentionMode.Retain"/> hands what the heap kept back to the kernel (<c>malloc_trim</c>).
    /// Returning to <see cref="MemoryRetentionMode.Default"/> after another mode sets the thresholds glibc's own tuning
    /// settles at on 64-bit systems (blocks over 32 MiB mapped, trimming past 64 MiB): once a program has set them,
    /// glibc no longer tunes them itself; chosen before any other mode (or with <see cref="EnvironmentVariable"/>),
    /// glibc is left untouched. Always <see cref="MemoryRetentionMode.Default"/> where the C library is not glibc.
    /// </summary>
    public static MemoryRetentionMode Mode
    {
        get
        {
            lock (Gate) return _mode;
        }
        set
        {
            lock (Gate)
            {
                _applied = true;
                if (!OperatingSystem.IsLinux() || value == _mode) return;
                bool applied = value switch
                {
                    MemoryRetentionMode.Retain => Set(MmapMax, 0) && Set(TrimThreshold, int.MaxValue),
                    MemoryRetentionMode.Release => Set(MmapMax, DefaultMmapMax) && Set(MmapThreshold, ReleaseMmapThreshold)
                                                   && Set(TrimThreshold, ReleaseTrimThreshold) && Trim(),
                    _ => Set(MmapMax, DefaultMmapMax) && Set(MmapThreshold, TunedMmapThreshold) && Set(TrimThreshold, 2 * TunedMmapThreshold) && Trim(),
                };
                if (applied) _mode = value;
            }
        }
    }

    /// <summary>Applies the process's setting once: retain, unless <see cref="EnvironmentVariable"/> says otherwise.</summary>
    internal static void ApplyOnce()
    {
        lock (Gate)
        {
            if (_applied) return;
            Mode = Configured switch
            {
                "default" or "off" or "0" or "false" => MemoryRetentionMode.Default,
                "release" => MemoryRetentionMode.Release,
                _ => MemoryRetentionMode.Retain,
            };
        }
    }

    /// <summary>
    /// Hands back to the kernel what the allocator kept for training's steps, once training is over: the export, its
    /// ONNX Runtime session and scoring then start from the working set instead of stacking on training's peak
    /// (ResNet-18, 224 px, batch 128: the command-line tool's save went 300 MB over the training peak). Not done
    /// between fits or phases: there the next step reuses every kept page, and faulting a 224-px training step's
    /// pages back in cost about 10 s on a 2-core VM (bench/RESULTS.md). Under jemalloc (the command-line tool's
    /// allocator where it is installed, or any <c>LD_PRELOAD</c>) every arena is purged; under glibc with
    /// <see cref="MemoryRetentionMode.Retain"/> the heap is trimmed; otherwise little is kept.
    /// </summary>
    internal static void HandBackAfterTraining()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (JemallocControl != 0) Jemalloc("arena.4096.purge");  // MALLCTL_ARENAS_ALL: every arena, dirty and muzzy pages
        else if (Mode == MemoryRetentionMode.Retain) Trim();
    }

    /// <summary>
    /// How far above a training step's working set (<see cref="ActivationMemory.TrainingBytes"/>) resident memory
    /// settles while freed memory is kept, measured at 224 px, batch 128 (bench/RESULTS.md): glibc's heap, which cannot
    /// reuse a freed block for a slightly larger one, and jemalloc's size classes.
    /// </summary>
    internal const double GlibcRetainedGrowth = 1.6, JemallocRetainedGrowth = 1.35;

    /// <summary>
    /// Makes the allocator hand freed memory back at once when keeping it would not fit: a step needing
    /// <paramref name="workingSet"/> bytes fits in <paramref name="available"/>, but the memory retention keeps beyond
    /// it would not. Slower steps (page faults) instead of a process the kernel ends. Returns what it did, for the
    /// log, or null when nothing had to change.
    /// </summary>
    internal static string? LetGo(long workingSet, long available)
    {
        if (!OperatingSystem.IsLinux()) return null;
        bool jemalloc = JemallocControl != 0;
        if (!jemalloc && Mode != MemoryRetentionMode.Retain) return null;
        double growth = jemalloc ? JemallocRetainedGrowth : GlibcRetainedGrowth;
        if (workingSet * growth <= available) return null;
        if (jemalloc) JemallocDecay(0);
        else Mode = MemoryRetentionMode.Release;
        return $"Memory is tight: a training step needs about {Bytes.Format(workingSet)} and {Bytes.Format(available)} is available, " +
               $"too little to keep freed memory for reuse ({growth:0.##}× the step), so from now on this process hands it back at once (slower steps, page faults).";
    }

    /// <summary>Sets jemalloc's decay time, dirty and muzzy pages, for every arena and those created later (0: hand back at once; -1: never).</summary>
    internal static void JemallocDecay(long milliseconds)
    {
        if (JemallocControl == 0) return;
        uint arenas = JemallocArenas();
        for (uint i = 0; i < arenas; i++)
        {
            Jemalloc($"arena.{i}.dirty_decay_ms", milliseconds);
            Jemalloc($"arena.{i}.muzzy_decay_ms", milliseconds);
        }
        Jemalloc("arenas.dirty_decay_ms", milliseconds);
        Jemalloc("arenas.muzzy_decay_ms", milliseconds);
    }

    /// <summary>The address of jemalloc's <c>mallctl</c> when jemalloc is this process's allocator (preloaded), else 0.</summary>
    private static readonly nint JemallocControl =
        OperatingSystem.IsLinux() && NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "mallctl", out var address) ? address : 0;

    /// <summary>Whether jemalloc is this process's C allocator.</summary>
    internal static bool UnderJemalloc => JemallocControl != 0;

    /// <summary>jemalloc's decay time in milliseconds for arenas created from now on (-1: never; 0: at once); null when jemalloc is not the allocator.</summary>
    internal static long? JemallocDecayMilliseconds() => JemallocRead<long>("arenas.dirty_decay_ms");

    private static uint JemallocArenas() => JemallocRead<uint>("arenas.narenas") ?? 0;

    private static unsafe T? JemallocRead<T>(string name) where T : unmanaged
    {
        if (JemallocControl == 0) return null;
        T value = default;
        nuint length = (nuint)sizeof(T);
        return Mallctl(name, &value, &length, null, 0) == 0 ? value : null;
    }

    /// <summary>Runs a jemalloc command (<paramref name="value"/> null) or writes a setting of type <c>ssize_t</c>.</summary>
    private static unsafe void Jemalloc(string name, long? value = null)
    {
        long written = value ?? 0;
        Mallctl(name, null, null, value is null ? null : &written, value is null ? 0 : (nuint)sizeof(long));
    }

    private static unsafe int Mallctl(string name, void* read, nuint* readLength, void* write, nuint writeLength)
    {
        nint key = Marshal.StringToHGlobalAnsi(name);
        try
        {
            return ((delegate* unmanaged<nint, void*, nuint*, void*, nuint, int>)JemallocControl)(key, read, readLength, write, writeLength);
        }
        finally
        {
            Marshal.FreeHGlobal(key);
        }
    }

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

    private static bool Trim()
    {
        try
        {
            malloc_trim(0);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
