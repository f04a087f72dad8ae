using System.Text.Json.Nodes;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Optimizers;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Training;

/// <summary>
/// <c>train</c>: images/s of whole <see cref="Learner.Fit"/> epochs with the body frozen and unfrozen, next to a bare
/// TorchSharp loop over the same batches with the same optimizer, and the bare loop with TorchSharp's per-parameter
/// AdamW; resident memory after every epoch.
/// </summary>
internal static class TrainBench
{
    private const double RatioTarget = 0.95;

    public static int Run(BenchArgs args, BenchReport report)
    {
        var settings = TrainSettings.Read(args, defaultEpochs: 5);
        args.RejectUnknown();
        settings.Record(report);

        using var data = settings.LoadData();
        Device device;
        using (var probe = settings.NewLearner(data)) device = probe.Device;
        BenchDevice.Describe(report, device);
        report.Setting("trainImages", data.Train.Count);
        report.Setting("validImages", data.Valid.Count);
        report.Setting("imageSize", $"{data.Pipeline.Width}x{data.Pipeline.Height}");
        report.PrintSettings();

        WarmUp(settings, data);
        foreach (bool frozen in new[] { true, false })
        {
            string config = frozen ? "frozen" : "unfrozen";
            report.Section($"{settings.Architecture.Name}, body {config}, batch {settings.BatchSize}, {settings.Epochs} epoch(s), {device}");
            var learner = RunLearner(settings, data, frozen);
            var flat = RunBare(settings, data, frozen, torchOptimizer: false);
            var perParameter = RunBare(settings, data, frozen, torchOptimizer: true);

            Summarize(report, $"{config} Learner.Fit", learner);
            Summarize(report, $"{config} bare loop, FlatAdamW", flat);
            Summarize(report, $"{config} bare loop, torch.optim.AdamW", perParameter);

            double epochRatio = SteadyEpochRate(learner) / SteadyEpochRate(flat);
            double trainRatio = SteadyTrainRate(learner) / SteadyTrainRate(flat);
            report.Figure($"{config} Learner/bare full epoch", 100 * epochRatio, "%");
            report.Figure($"{config} Learner/bare training phase", 100 * trainRatio, "%");
            report.Target($"{config}: Learner.Fit ≥ {RatioTarget:P0} of the bare loop (full epoch)", epochRatio >= RatioTarget,
                $"{100 * epochRatio:F1}% ({BenchReport.Format(SteadyEpochRate(learner))} vs {BenchReport.Format(SteadyEpochRate(flat))} images/s)");
            report.Figure($"{config} FlatAdamW / torch.optim.AdamW (bare, training phase)", SteadyTrainRate(flat) / SteadyTrainRate(perParameter), "x");
            ReportMemory(report, config, learner);
        }
        report.Note("images/s count training images (the last partial batch is dropped); 'full epoch' includes the validation pass, " +
                    "'training phase' does not. Steady figures are medians over epochs 2..N when N ≥ 2.");
        return 0;
    }

    /// <summary>A few unmeasured steps so that the first measured run does not pay for JIT compilation alone.</summary>
    private static void WarmUp(TrainSettings settings, ImageDataLoaders data)
    {
        if (settings.WarmupBatches == 0) return;
        using var learner = settings.NewLearner(data);
        using var loader = data.Loader(data.Train, learner.Device, training: true, learner.Normalization);
        var optimizer = new FlatStep(learner);
        learner.Model.train();
        using var batches = loader.Batches(0).GetEnumerator();
        for (int i = 0; i < settings.WarmupBatches; i++)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext()) break;
            nn.functional.cross_entropy(learner.Model.call(batches.Current.Images), batches.Current.Labels).backward();
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        BenchDevice.Synchronize(learner.Device);
    }

    private static IReadOnlyList<EpochTiming> RunLearner(TrainSettings settings, ImageDataLoaders data, bool frozen)
    {
        using var learner = settings.NewLearner(data, settings.Progress);
        if (frozen) learner.Freeze(); else learner.Unfreeze();
        var probe = new EpochProbe(learner.Device);
        learner.Fit(settings.Epochs, settings.LearningRate, callbacks: new[] { probe });
        return probe.Epochs;
    }

    private static IReadOnlyList<EpochTiming> RunBare(TrainSettings settings, ImageDataLoaders data, bool frozen, bool torchOptimizer)
    {
        using var learner = settings.NewLearner(data);
        if (frozen) learner.Freeze(); else learner.Unfreeze();
        // The per-parameter optimizer must see ordinary parameters, so the learner's flat optimizer is never created then.
        using IStepOptimizer optimizer = torchOptimizer
            ? new TorchAdamWStep(learner.Model.parameters().Where(p => p.requires_grad), new HyperParameters { LearningRate = settings.LearningRate })
            : new FlatStep(learner);
        using var train = data.Loader(data.Train, learner.Device, training: true, learner.Normalization);
        using var valid = data.Loader(data.Valid, learner.Device, training: false, learner.Normalization);
        var loop = new BareTrainingLoop(learner.Model, optimizer, train, valid, learner.Device);
        return Enumerable.Range(0, settings.Epochs).Select(loop.RunEpoch).ToList();
    }

    private static double SteadyEpochRate(IReadOnlyList<EpochTiming> epochs) => EpochTimings.Median(EpochTimings.Steady(epochs).Select(e => e.EpochImagesPerSecond));

    private static double SteadyTrainRate(IReadOnlyList<EpochTiming> epochs) => EpochTimings.Median(EpochTimings.Steady(epochs).Select(e => e.TrainImagesPerSecond));

    private static void Summarize(BenchReport report, string name, IReadOnlyList<EpochTiming> epochs)
    {
        foreach (var e in epochs)
            Console.WriteLine($"  {name} epoch {e.Epoch}: training {e.TrainMs / 1000:F2} s ({BenchReport.Format(e.TrainImagesPerSecond)} images/s), " +
                              $"epoch {e.EpochMs / 1000:F2} s ({BenchReport.Format(e.EpochImagesPerSecond)} images/s), {e.Memory}");
        var details = new JsonObject
        {
            ["epochs"] = new JsonArray(epochs.Select(e => (JsonNode)new JsonObject
            {
                ["epoch"] = e.Epoch,
                ["trainMs"] = BenchReport.Round(e.TrainMs),
                ["epochMs"] = BenchReport.Round(e.EpochMs),
                ["trainImages"] = e.TrainImages,
                ["workingSetMiB"] = BenchReport.Round(e.Memory.WorkingSetMiB),
                ["vmRssMiB"] = e.Memory.VmRssMiB is { } rss ? BenchReport.Round(rss) : null,
            }).ToArray()),
            ["epoch1ImagesPerSecond"] = BenchReport.Round(epochs[0].EpochImagesPerSecond),
        };
        report.Figure($"{name} full epoch", SteadyEpochRate(epochs), "images/s", details);
        report.Figure($"{name} training phase", SteadyTrainRate(epochs), "images/s");
    }

    private static void ReportMemory(BenchReport report, string config, IReadOnlyList<EpochTiming> epochs)
    {
        var first = epochs[0].Memory;
        var last = epochs[^1].Memory;
        double firstMiB = first.VmRssMiB ?? first.WorkingSetMiB, lastMiB = last.VmRssMiB ?? last.WorkingSetMiB;
        string what = first.VmRssMiB is null ? "WorkingSet64" : "VmRSS";
        report.Figure($"{config} Learner {what} after epoch 1", firstMiB, "MiB");
        report.Figure($"{config} Learner {what} after epoch {epochs.Count}", lastMiB, "MiB");
        if (epochs.Count < 2)
        {
            report.Note($"{config}: one epoch only, so memory growth across epochs is not judged.");
            return;
        }
        double growth = lastMiB - firstMiB;
        double allowed = Math.Max(64, 0.05 * firstMiB);
        report.Target($"{config}: resident memory does not grow across epochs", growth <= allowed,
            $"{what} {firstMiB:F0} → {lastMiB:F0} MiB ({growth:+0;-0} MiB over {epochs.Count - 1} epoch(s); allowed {allowed:F0} MiB)");
    }
}
