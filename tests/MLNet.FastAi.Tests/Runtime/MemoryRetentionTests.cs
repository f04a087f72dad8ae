using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Packaging;
using MLNet.FastAi.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Runtime;

/// <summary>
/// With memory retention on (the default), a large tensor freed and allocated again on the main thread reuses the same
/// pages: no new page faults. Off (<c>MLNET_FASTAI_MALLOC=default</c>, or <see cref="MemoryRetention.Enabled"/> set
/// false), glibc unmaps it on free and the next allocation faults its pages in again. Measured in fresh processes, on
/// their main thread, as a console application trains.
/// </summary>
[Trait("Category", "Slow")]
public sealed class MemoryRetentionTests(ITestOutputHelper output)
{
    [Fact]
    public void AFreedTensorIsReusedWithoutPageFaults_AndTurningRetentionOffRestoresTheDefault()
    {
        var on = Child(environment: null);
        var off = Child(new Dictionary<string, string?> { [MemoryRetention.EnvironmentVariable] = "default" });
        output.WriteLine($"page faults touching a freed 64 MiB tensor again: on {on.First}, off at start-up {off.First}, turned off at run time {on.AfterTurningOff}");
        Assert.True(on.Enabled);
        Assert.False(off.Enabled);
        // 64 MiB is 16,384 pages of 4 KiB (32 huge pages where the kernel gives every mapping huge pages).
        Assert.True(off.First >= 16, $"with retention off, only {off.First} faults: the tensor's pages were expected to fault in again");
        Assert.True(on.First <= off.First / 8, $"with retention on, {on.First} faults against {off.First} with it off");
        Assert.True(on.AfterTurningOff >= 16 && on.AfterTurningOff > 8 * Math.Max(1, on.First),
            $"after turning retention off at run time, {on.AfterTurningOff} faults (on: {on.First})");
    }

    [Fact]
    public void ReleaseMode_GivesAFreedTensorBackAtOnce_WhereTheDefaultAndRetentionKeepIt()
    {
        var retained = new Dictionary<string, (string Mode, long Bytes)>();
        foreach (string setting in new[] { "release", "default", "retain" })
        {
            var environment = new Dictionary<string, string?> { [MemoryRetention.EnvironmentVariable] = setting };
            var (code, text) = ProcessRunner.Run(HostPath(), $"\"{typeof(RetainedMemoryChild).Assembly.Location}\" retained-memory-child", AppContext.BaseDirectory,
                environment, timeoutSeconds: 120);
            Assert.True(code == 0, text);
            var values = text.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("retained ", StringComparison.Ordinal)).Split(' ');
            retained[setting] = (values[1], long.Parse(values[2]));
        }
        output.WriteLine("resident memory kept after freeing a 16 MiB tensor twice: " + string.Join(", ", retained.Select(r => $"{r.Key} ({r.Value.Mode}) {r.Value.Bytes / 1024} KiB")));
        Assert.Equal(nameof(MemoryRetentionMode.Release), retained["release"].Mode);
        Assert.Equal(nameof(MemoryRetentionMode.Default), retained["default"].Mode);
        Assert.Equal(nameof(MemoryRetentionMode.Retain), retained["retain"].Mode);
        const long mib = 1 << 20;
        // glibc's rules, not the CPU's: a freed 16 MiB block is unmapped at once past a 1 MiB mmap threshold (release),
        // and kept by the heap with mmap off (retain) or once glibc's self-tuning has raised its threshold past the
        // block, which the first free does (default; the child frees it twice). 4 and 12 MiB
        // leave a quarter of the block for the pages other allocations touch meanwhile.
        Assert.True(retained["release"].Bytes < 4 * mib, $"release mode kept {retained["release"].Bytes / mib} MiB of a freed 16 MiB tensor");
        Assert.True(retained["default"].Bytes >= 12 * mib, $"glibc's default kept only {retained["default"].Bytes / mib} MiB");
        Assert.True(retained["retain"].Bytes >= 12 * mib, $"retention kept only {retained["retain"].Bytes / mib} MiB");
    }

    private static string HostPath() => Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    private static (bool Enabled, long First, long AfterTurningOff) Child(IReadOnlyDictionary<string, string?>? environment)
    {
        var (code, text) = ProcessRunner.Run(HostPath(), $"\"{typeof(PageFaultChild).Assembly.Location}\" page-faults-child", AppContext.BaseDirectory, environment, timeoutSeconds: 120);
        Assert.True(code == 0, text);
        var values = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("faults ", StringComparison.Ordinal)).Single().Split(' ');
        return (bool.Parse(values[1]), long.Parse(values[2]), long.Parse(values[3]));
    }
}

/// <summary>
/// The child process: frees a large tensor, then counts the page faults of allocating and touching a 64 MiB one.
/// </summary>
/// <remarks>
/// libtorch allocates with <c>posix_memalign</c>, which asks glibc for a little more than the tensor needs; a freed
/// block of exactly a tensor's size therefore does not always serve the next tensor of that size, and the heap keeps
/// some slack before same-size cycles stop faulting. The 192 MiB tensor freed first is that slack, as the larger
/// activations of earlier layers are in training.
/// </remarks>
internal static class PageFaultChild
{
    private const long Floats = 16L << 20;

    public static int Run()
    {
        TorchRuntime.EnsureInitialized();
        set_num_threads(1);
        bool enabled = MemoryRetention.Enabled;
        AllocateAndTouch(3 * Floats);
        long first = FaultsOf(() => AllocateAndTouch(Floats));
        MemoryRetention.Enabled = false;
        AllocateAndTouch(3 * Floats);
        long afterTurningOff = FaultsOf(() => AllocateAndTouch(Floats));
        Console.WriteLine($"faults {enabled} {first} {afterTurningOff}");
        return 0;
    }

    private static void AllocateAndTouch(long floats)
    {
        using var tensor = empty(floats, ScalarType.Float32);
        tensor.fill_(1);
    }

    private static long FaultsOf(Action action)
    {
        long before = MinorFaults();
        action();
        return MinorFaults() - before;
    }

    /// <summary>This process's minor page faults so far (field 10 of /proc/self/stat, counted after the command name).</summary>
    private static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7]);
    }
}

/// <summary>
/// The child process: how much stays resident after a 16 MiB tensor was allocated, touched and freed twice. glibc's
/// default maps the first and unmaps it on free, which raises its self-tuned threshold above that size, so it serves
/// the second from its heap and keeps it; retention keeps both in the heap; release maps and unmaps both.
/// </summary>
internal static class RetainedMemoryChild
{
    private const long Floats = 4L << 20;

    public static int Run()
    {
        TorchRuntime.EnsureInitialized();
        set_num_threads(1);
        long before = AnonymousResident();
        Touch(Floats);
        Touch(Floats);
        long retained = AnonymousResident() - before;
        Console.WriteLine($"retained {MemoryRetention.Mode} {retained}");
        return 0;
    }

    private static void Touch(long floats)
    {
        using var tensor = empty(floats, ScalarType.Float32);
        tensor.fill_(1);
    }

    private static long AnonymousResident() =>
        long.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
