using System.Diagnostics;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Bench.Training;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Bench.Photos;

/// <summary>
/// <c>photos</c>: a photo folder (train/ and valid/ of class folders, e.g. from <c>photos-make</c>) at photo sizes, in
/// one cache mode: how long building the loaders takes (decoding for memory and disk, checks for streaming), then
/// <see cref="Learner.Fit"/> epochs with images/s per phase and the peak anonymous and file-backed resident memory of
/// each epoch beside the level before the data was loaded.
/// </summary>
internal static class PhotoBench
{
    public static int Run(BenchArgs args, BenchReport report)
    {
        string folder = Path.GetFullPath(args.Required("folder"));
        int size = args.Int("size", 224);
        int? itemSize = args.Text("item-size") is null ? null : args.Int("item-size", 460);
        var cache = Enum.Parse<ImageCacheMode>(args.Text("cache") ?? "auto", ignoreCase: true);
        string? cacheDir = args.Text("cache-dir");
        int epochs = args.Int("epochs", 2, min: 0);
        int batch = args.Int("batch", 64);
        bool unfrozen = args.Flag("unfrozen");
        bool augment = args.Flag("augment");
        double minScale = args.Double("min-scale", 1.0);
        var architecture = ResNetArchitecture.FromName(args.Text("arch") ?? "resnet18");
        int traceEvery = args.Int("trace-every", 0, min: 0);
        args.RejectUnknown();
        foreach (var (name, value) in new (string, object?)[] { ("folder", folder), ("size", size), ("itemSize", itemSize), ("cache", cache.ToString()),
                     ("epochs", epochs), ("batch", batch), ("body", unfrozen ? "unfrozen" : "frozen"), ("augment", augment), ("minScale", minScale), ("arch", architecture.Name) })
            report.Setting(name, value?.ToString() ?? "none");
        MLNet.FastAi.Runtime.TorchRuntime.EnsureInitialized();
        // What the process runs with (MLNET_FASTAI_MALLOC picks it; retention unless set).
        report.Setting("memoryRetention", MLNet.FastAi.Runtime.MemoryRetention.Mode.ToString());
        report.PrintSettings();

        using var sampler = new PeakMemorySampler();
        var before = PeakMemorySampler.Read();
        var options = new ImageDataOptions
        {
            ImageSize = size, ItemSize = itemSize, Resize = ResizeMethod.Crop, BatchSize = batch, Seed = 42, Cache = cache, CacheFolder = cacheDir,
            Normalization = NormalizationStats.ImageNet,
            Augmentation = augment || minScale < 1 ? AugmentationOptions.Default with { MinScale = (float)minScale } : null,
        };
        var load = Stopwatch.StartNew();
        using var data = ImageDataLoaders.FromFolder(folder, train: "train", valid: "valid", options: options);
        double loadSeconds = load.Elapsed.TotalSeconds;
        var afterLoad = PeakMemorySampler.Read();
        report.Figure("images", data.Train.Count + data.Valid.Count, "train + valid");
        report.Figure("cache modes", 0, string.Join(", ", data.CacheModes.Select(m => $"{m.Key} {m.Value}")));
        report.Figure("loaders built (decode or checks)", loadSeconds, "s");
        report.Figure("RssAnon before loading", Mib(before.Anon), "MiB");
        report.Figure("RssAnon after loading", Mib(afterLoad.Anon), "MiB");

        if (epochs == 0) return 0;
        using var learner = Learner.Vision(data, new VisionLearnerOptions { Architecture = architecture, Pretrained = PretrainedSource.None, ShowProgress = false, Seed = 1 });
        if (unfrozen) learner.Unfreeze(); else learner.Freeze();
        var probe = new PhaseProbe(sampler);
        var callbacks = new List<Callback> { probe };
        if (traceEvery > 0) callbacks.Add(new MemoryTrace(traceEvery));
        learner.Fit(epochs, 1e-3, callbacks: callbacks.ToArray());
        long trained = EpochProbe.TrainedImages(data.Train.Count, batch);
        for (int e = 0; e < probe.Epochs.Count; e++)
        {
            var p = probe.Epochs[e];
            report.Figure($"epoch {e + 1} training", trained / p.TrainSeconds, "images/s");
            report.Figure($"epoch {e + 1} validation", data.Valid.Count / p.ValidSeconds, "images/s");
            report.Figure($"epoch {e + 1} peak RssAnon", Mib(p.PeakAnon), "MiB");
            report.Figure($"epoch {e + 1} peak RssAnon growth over before loading", Mib(p.PeakAnon - before.Anon), "MiB");
            report.Figure($"epoch {e + 1} peak RssFile", Mib(p.PeakFile), "MiB");
        }
        var first = probe.Epochs[0];
        report.Figure("first epoch with the loaders' build, training images/s", trained / (loadSeconds + first.TrainSeconds), "images/s");
        return 0;
    }

    private static double Mib(long bytes) => bytes / 1048576.0;

    /// <summary>
    /// Every <c>every</c> training batches, one line: resident anonymous memory, the managed heap's committed bytes and
    /// the C heap's (in use, free inside its arenas, mapped apart), to tell which of them grows with the batches.
    /// </summary>
    private sealed class MemoryTrace(int every) : Callback
    {
        private int _batch;

        public override void AfterBatch()
        {
            if (++_batch % every != 0) return;
            var (anon, _) = PeakMemorySampler.Read();
            var gc = GC.GetGCMemoryInfo();
            var heap = NativeHeap.Read();
            Console.WriteLine($"trace batch {_batch}: RssAnon {Mib(anon):F0} MiB, managed committed {Mib(gc.TotalCommittedBytes):F0} MiB " +
                              $"(heap {Mib(gc.HeapSizeBytes):F0}, fragmented {Mib(gc.FragmentedBytes):F0})" +
                              (heap is { } h ? $", C heap in use {Mib(h.InUseBytes):F0}, free {Mib(h.FreeBytes):F0}, arenas {Mib(h.ArenaBytes):F0}, mapped {Mib(h.MappedBytes):F0} MiB" : ""));
        }
    }

    private sealed record PhaseTiming(double TrainSeconds, double ValidSeconds, long PeakAnon, long PeakFile);

    /// <summary>Times the phases of each epoch and reads the sampler's peaks at its end.</summary>
    private sealed class PhaseProbe(PeakMemorySampler sampler) : Callback
    {
        private long _start;
        private double _train;

        public List<PhaseTiming> Epochs { get; } = new();

        public override int Order => int.MaxValue;

        public override void BeforeEpoch() => sampler.Reset();

        public override void BeforeTrain() => _start = Stopwatch.GetTimestamp();

        public override void AfterTrain() => _train = Stopwatch.GetElapsedTime(_start).TotalSeconds;

        public override void BeforeValidate() => _start = Stopwatch.GetTimestamp();

        public override void AfterValidate() =>
            Epochs.Add(new PhaseTiming(_train, Stopwatch.GetElapsedTime(_start).TotalSeconds, sampler.PeakAnonBytes, sampler.PeakFileBytes));
    }
}
