using System.Diagnostics;
using System.Reflection;
using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>
/// Runs <c>train</c> and <c>lr-find</c> again in a child process with jemalloc as the C allocator, where the machine
/// has it (Debian/Ubuntu: <c>apt install libjemalloc2</c>). Kept from decaying (<c>MALLOC_CONF</c> below), jemalloc
/// gives libtorch's freed blocks back to blocks of the same size, so training keeps glibc-retention's speed at the
/// memory of a working set: ResNet-18 at 224 px, batch 128, an unfrozen epoch peaked at 3.9 GB instead of 6.9 GB
/// (bench/RESULTS.md). An allocator can only be chosen before a process starts, hence the child.
/// </summary>
/// <remarks>
/// Skipped when <c>MLNET_FASTAI_MALLOC</c> names another setting (<c>default</c>, <c>release</c>, <c>glibc</c>), when
/// <c>LD_PRELOAD</c> is already set (the user chose), off Linux, and in the child itself. The child shares the
/// console, so Ctrl+C reaches it directly; the parent only waits and returns its exit code.
/// </remarks>
internal static class JemallocRelaunch
{
    private const string ChildMarker = "MLNET_FASTAI_ALLOCATOR_CHILD";

    /// <summary>jemalloc with freed pages never handed back: the retention the package otherwise asks of glibc.</summary>
    private const string Configuration = "dirty_decay_ms:-1,muzzy_decay_ms:-1";

    private static readonly string[] Commands = ["train", "lr-find"];

    private static readonly string[] Libraries =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
    ];

    /// <summary>The child's exit code when the command ran in a child, or null to run it in this process.</summary>
    public static int? TryRun(string[] args)
    {
        if (!OperatingSystem.IsLinux() || args.Length == 0 || !Commands.Contains(args[0])) return null;
        if (Environment.GetEnvironmentVariable(ChildMarker) is not null) return null;
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("LD_PRELOAD"))) return null;
        if (!MemoryRetention.AllowsJemalloc) return null;
        if (Libraries.FirstOrDefault(File.Exists) is not { } library || Environment.ProcessPath is not { } host) return null;

        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        // Run as `dotnet mlnet-fastai.dll ...` (not through the tool's launcher), the child needs the assembly too.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet" && Assembly.GetEntryAssembly()?.Location is { Length: > 0 } entry)
            start.ArgumentList.Add(entry);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["LD_PRELOAD"] = library;
        start.Environment["MALLOC_CONF"] = Environment.GetEnvironmentVariable("MALLOC_CONF") is { Length: > 0 } chosen ? chosen : Configuration;
        start.Environment[ChildMarker] = "1";

        Console.Error.WriteLine($"Training with jemalloc as the C allocator ({library}); MLNET_FASTAI_MALLOC=glibc keeps glibc's.");
        Console.CancelKeyPress += (_, e) => e.Cancel = true;  // the child gets the same Ctrl+C and stops itself
        try
        {
            using var child = Process.Start(start);
            if (child is null) return null;
            child.WaitForExit();
            return child.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;  // could not start: run here, with glibc
        }
    }
}
