using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Packaging;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Runtime;

/// <summary>
/// The estimate behind the refusal of a training step that cannot fit: it counts the parameters the modules really
/// have, it bounds what a real step holds without overstating it, and the refusal follows it to the byte — a
/// memory limit one byte under the estimate refuses (naming the batch that fits), one at the estimate trains, and
/// there the allocator stops keeping freed memory that would not fit.
/// </summary>
public sealed class TrainingMemoryEstimateTests(ITestOutputHelper output) : IDisposable
{
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet34")]
    [InlineData("resnet50")]
    [InlineData("resnet18-cntk")]
    public void TheParameterCount_IsTheModelsOwn_WithAThousandClassHead(string name)
    {
        var architecture = ResNetArchitecture.FromName(name);
        const int classes = 10;
        using var model = new MLNet.FastAi.Vision.Modules.CnnModel(architecture, classes);
        long actual = model.parameters().Sum(p => p.numel());
        // The estimate takes the head's last layer at 1,000 classes (512 weights each): exactly that many more.
        Assert.Equal(actual + (1000 - classes) * 512L, ActivationMemory.Parameters(architecture.Shape));
    }

    [Fact]
    public void TheRefusal_FollowsTheEstimate_AtBothEdges_AndTightMemoryStopsRetention()
    {
        const int size = 24, batch = 8;
        string root = PhotoFolder.Write(Path.Combine(_temp.Path, "photos"), perClass: 6);
        var log = new List<string>();
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: new ImageDataOptions
        {
            ImageSize = size, BatchSize = batch, Seed = 3, Cache = ImageCacheMode.Memory, Log = line => { lock (log) log.Add(line); },
        });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        var shape = SmallMnistFixture.TinyResNet.Shape;
        long needed = ActivationMemory.TrainingBytes(shape, size, batch);

        using (AvailableMemory.Pretend(needed - 1))
        {
            var refused = Assert.Throws<OptionException>(() => learner.Fit(1, 1e-3));
            Assert.Equal(OptionKey.BatchSize, refused.Option);
            Assert.Equal(batch - 1, refused.Fits);
            Assert.Contains("ImageDataOptions.BatchSize", refused.Message);
        }
        Assert.Empty(learner.Recorder.Epochs);

        var before = MemoryRetention.Mode;
        try
        {
            MemoryRetention.Mode = MemoryRetentionMode.Retain;
            using (AvailableMemory.Pretend(needed))
                learner.Fit(1, 1e-3);
            Assert.Single(learner.Recorder.Epochs);
            if (OperatingSystem.IsLinux() && !MemoryRetention.UnderJemalloc)
            {
                Assert.Equal(MemoryRetentionMode.Release, MemoryRetention.Mode);
                Assert.Contains(log, line => line.StartsWith("Memory is tight", StringComparison.Ordinal));
            }

            // With room for what retention keeps, retention stays.
            MemoryRetention.Mode = MemoryRetentionMode.Retain;
            log.Clear();
            using (AvailableMemory.Pretend((long)(needed * MemoryRetention.GlibcRetainedGrowth) + 1))
                learner.Fit(1, 1e-3);
            if (OperatingSystem.IsLinux()) Assert.Equal(MemoryRetentionMode.Retain, MemoryRetention.Mode);
            Assert.DoesNotContain(log, line => line.StartsWith("Memory is tight", StringComparison.Ordinal));
        }
        finally
        {
            MemoryRetention.Mode = before;
        }
    }

    /// <summary>
    /// A fresh process trains ResNet-18 (160 px, batch 32, every layer) with freed memory handed back at once, so its
    /// resident memory is what it uses: the step's peak growth stays under the estimate (no process killed after it
    /// was accepted) and the estimate stays within a third above it (no refusal of what fits by a wide margin). The
    /// bounds come from what autograd must keep, which no CPU changes; the third is room for the allocator's and the
    /// runtime's own growth during a first fit.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void TheEstimate_BoundsTheMeasuredPeakOfATrainingStep()
    {
        if (!OperatingSystem.IsLinux()) return;  // resident memory and its peak come from /proc
        string root = PhotoFolder.Write(Path.Combine(_temp.Path, "photos"), perClass: 22, sizes: new[] { (200, 170), (170, 200) });
        var environment = new Dictionary<string, string?> { [MemoryRetention.EnvironmentVariable] = "release" };
        var (code, text) = ProcessRunner.Run(HostPath(), $"\"{typeof(TrainingPeakChild).Assembly.Location}\" training-peak-child \"{root}\"",
            AppContext.BaseDirectory, environment, timeoutSeconds: 300);
        Assert.True(code == 0, text);
        var values = text.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("peak ", StringComparison.Ordinal)).Split(' ');
        long peak = long.Parse(values[1]), estimate = long.Parse(values[2]);
        output.WriteLine($"peak growth {peak >> 20} MiB, estimate {estimate >> 20} MiB ({(double)estimate / peak:0.00}×)");
        Assert.True(peak <= estimate, $"the step grew resident memory by {peak >> 20} MiB, over the estimate of {estimate >> 20} MiB");
        Assert.True(estimate <= peak * 4 / 3, $"the estimate ({estimate >> 20} MiB) overstates the step's {peak >> 20} MiB by more than a third");
    }

    /// <summary>
    /// Under jemalloc (preloaded, as the command-line tool trains): a step that fits only without retention's slack
    /// turns jemalloc's decay to zero (freed pages handed back at once), and the hand-back after training returns
    /// what a fit kept. Runs where jemalloc is installed (CI installs it).
    /// </summary>
    [Fact]
    public void UnderJemalloc_TightMemoryStopsRetention_AndTheHandBackAfterTrainingReturnsThePages()
    {
        string? jemalloc = new[] { "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2" }.FirstOrDefault(File.Exists);
        if (!OperatingSystem.IsLinux() || jemalloc is null) return;  // nothing to preload
        string root = PhotoFolder.Write(Path.Combine(_temp.Path, "photos"), perClass: 6);
        var environment = new Dictionary<string, string?> { ["LD_PRELOAD"] = jemalloc, ["MALLOC_CONF"] = "dirty_decay_ms:-1,muzzy_decay_ms:-1" };
        var (code, text) = ProcessRunner.Run(HostPath(), $"\"{typeof(TrainingPeakChild).Assembly.Location}\" jemalloc-retention-child \"{root}\"",
            AppContext.BaseDirectory, environment, timeoutSeconds: 300);
        Assert.True(code == 0, text);
        var values = text.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("jemalloc ", StringComparison.Ordinal)).Split(' ');
        output.WriteLine(text);
        Assert.Equal("-1", values[1]);     // as configured: never hand back
        Assert.Equal("True", values[2]);   // the log said why
        Assert.Equal("0", values[3]);      // after the tight fit: at once
        long kept = long.Parse(values[4]), afterHandBack = long.Parse(values[5]);
        Assert.True(afterHandBack < kept, $"resident memory {kept >> 20} MiB before the hand-back, {afterHandBack >> 20} MiB after");
    }

    private static string HostPath() => Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
}

/// <summary>
/// The child process: loads the photos in memory, builds ResNet-18 unfrozen, resets the kernel's peak-resident
/// counter, trains one epoch, and prints the growth of the peak over the level before training beside the estimate.
/// </summary>
internal static class TrainingPeakChild
{
    public const int Size = 160, Batch = 32;

    public static int Run(string root, int size = Size, int batch = Batch)
    {
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.1, options: new ImageDataOptions
        {
            ImageSize = size, BatchSize = batch, Seed = 5, Cache = ImageCacheMode.Memory, Log = _ => { },
        });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = ResNetArchitecture.ResNet18, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5");  // resets VmHWM to the current resident size
        long before = Status("VmRSS:");
        learner.Fit(1, 1e-3);
        long peak = Status("VmHWM:") - before;
        Console.WriteLine($"peak {peak} {ActivationMemory.TrainingBytes(ResNetArchitecture.ResNet18.Shape, size, batch)}");
        return 0;
    }

    private static long Status(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith(field, StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}

/// <summary>
/// The child process for the jemalloc test: reports jemalloc's decay setting, fits a small learner with just the step's
/// estimate available (the log's line, the decay after), then a roomy fit that keeps pages, and resident memory before
/// and after the hand-back that ends training.
/// </summary>
internal static class JemallocRetentionChild
{
    public static int Run(string root)
    {
        var log = new List<string>();
        using var data = ImageDataLoaders.FromFolder(root, valid: null, validPct: 0.25, options: new ImageDataOptions
        {
            ImageSize = 64, BatchSize = 8, Seed = 3, Cache = ImageCacheMode.Memory, Log = log.Add,
        });
        using var learner = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        });
        long? configured = MemoryRetention.JemallocDecayMilliseconds();
        using (AvailableMemory.Pretend(ActivationMemory.TrainingBytes(SmallMnistFixture.TinyResNet.Shape, 64, 8)))
            learner.Fit(1, 1e-3);
        bool logged = log.Any(line => line.StartsWith("Memory is tight", StringComparison.Ordinal));
        long? tight = MemoryRetention.JemallocDecayMilliseconds();
        // A fit that keeps its pages again, then what training's end hands back.
        MemoryRetention.JemallocDecay(-1);
        learner.Fit(1, 1e-3);
        long kept = AnonymousResident();
        MemoryRetention.HandBackAfterTraining();
        Console.WriteLine($"jemalloc {configured} {logged} {tight} {kept} {AnonymousResident()}");
        return 0;
    }

    private static long AnonymousResident() =>
        long.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
