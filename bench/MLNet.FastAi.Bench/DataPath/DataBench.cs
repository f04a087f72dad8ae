using System.Text.Json.Nodes;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Bench.Training;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.DataPath;

/// <summary>
/// <c>data</c>: how fast the folder decodes into the uint8 cache, and what a batch costs to assemble (gather,
/// convert, augment, normalize) next to one ResNet training step on that batch.
/// </summary>
internal static class DataBench
{
    private const double ShareTarget = 0.05;

    public static int Run(BenchArgs args, BenchReport report)
    {
        string folder = args.Required("folder");
        var deviceChoice = BenchDevice.Parse(args.Text("device"));
        int batchSize = args.Int("batch", 128);
        int decodeRuns = args.Int("decode-runs", 3);
        int warmup = args.Int("warmup", 3, min: 0);
        int repeats = args.Int("repeats", 20);
        int stepRepeats = args.Int("step-repeats", 10);
        var settings = new TrainSettings(folder, deviceChoice, 1, batchSize, Vision.ResNetArchitecture.ResNet18, 1e-3,
            Pretrained: false, Augment: false, Progress: false, WarmupBatches: 0, ImageSize: null);
        args.RejectUnknown();
        report.Setting("folder", Path.GetFullPath(folder));
        report.Setting("device", deviceChoice.ToString());
        report.Setting("batch", batchSize);
        report.Setting("decodeRuns", decodeRuns);
        report.Setting("warmup", warmup);
        report.Setting("repeats", repeats);
        report.Setting("stepRepeats", stepRepeats);
        report.PrintSettings();

        report.Section("Decode + cache (ImageDataLoaders.FromFolder: ImageAnalytics decode, uint8 tensors)");
        int images = 0;
        // The first load pays for JIT and ML.NET start-up; it is reported apart.
        double firstMs = Measure.Once(() => { using var d = BenchData.Load(folder, batchSize); images = d.Train.Count + d.Valid.Count; });
        report.Figure("decode+cache, first load", images / (firstMs / 1000), "images/s", comment: $"{images} images in {firstMs / 1000:F2} s");
        var decode = Measure.Repeat(0, decodeRuns, () => { using var d = BenchData.Load(folder, batchSize); });
        report.Figure("decode+cache", images / (decode.MedianMs / 1000), "images/s",
            new JsonObject { ["images"] = images, ["medianMs"] = BenchReport.Round(decode.MedianMs), ["minMs"] = BenchReport.Round(decode.MinMs) },
            $"median of {decodeRuns}; best {BenchReport.Format(images / (decode.MinMs / 1000))} images/s");

        using var data = settings.LoadData();
        using var learner = settings.NewLearner(data);
        var device = learner.Device;
        BenchDevice.Describe(report, device);
        report.Section($"Batch of {batchSize} {data.Pipeline.Width}x{data.Pipeline.Height} images on {device} vs one ResNet-18 training step (body unfrozen)");

        var set = data.Decoded(data.Train);
        using var plain = new BatchLoader(set, batchSize, shuffle: true, dropLast: true, device, learner.Normalization, augmentation: null, seed: 1);
        using var augmented = new BatchLoader(set, batchSize, shuffle: true, dropLast: true, device, learner.Normalization, TrainSettings.DigitAugmentation, seed: 1);
        var indexSets = RandomIndexSets(set.Count, batchSize, sets: 8);
        using var generator = new Generator(7);
        int next = 0;
        Tensor NextIndices() => indexSets[next++ % indexSets.Length];
        void Settle() => BenchDevice.Synchronize(device);

        var assemblePlain = Measure.Repeat(warmup, repeats, () => { using var s = NewDisposeScope(); plain.Assemble(NextIndices(), generator); }, Settle);
        var assembleAugmented = Measure.Repeat(warmup, repeats, () => { using var s = NewDisposeScope(); augmented.Assemble(NextIndices(), generator); }, Settle);

        learner.Unfreeze();
        var step = TrainingStep(learner, augmented, indexSets[0]);
        var stepTiming = Measure.Repeat(warmup, stepRepeats, step, Settle);

        report.Time("batch assembly without augmentation", assemblePlain);
        report.Time("batch assembly with aug_transforms (no flip)", assembleAugmented);
        report.Time("ResNet-18 training step (forward+backward+FlatAdamW)", stepTiming);
        double sharePlain = assemblePlain.MedianMs / stepTiming.MedianMs;
        double shareAugmented = assembleAugmented.MedianMs / stepTiming.MedianMs;
        report.Figure("assembly without augmentation / step", 100 * sharePlain, "%");
        report.Figure("assembly with augmentation / step", 100 * shareAugmented, "%");
        report.Target($"data path with augmentation ≤ {ShareTarget:P0} of a training step", shareAugmented <= ShareTarget,
            $"{100 * shareAugmented:F2}% ({assembleAugmented.MedianMs:F2} ms vs {stepTiming.MedianMs:F2} ms)");
        report.Target($"data path without augmentation ≤ {ShareTarget:P0} of a training step", sharePlain <= ShareTarget,
            $"{100 * sharePlain:F2}% ({assemblePlain.MedianMs:F2} ms vs {stepTiming.MedianMs:F2} ms)");
        report.Figure("training step throughput", batchSize / (stepTiming.MedianMs / 1000), "images/s");
        foreach (var t in indexSets) t.Dispose();
        return 0;
    }

    /// <summary>One training step on a fixed augmented batch: forward, loss, backward, FlatAdamW step, zero gradients.</summary>
    private static Action TrainingStep(Learner learner, BatchLoader loader, Tensor indices)
    {
        var batch = loader.Assemble(indices);
        var images = batch.Images.DetachFromDisposeScope();
        var labels = batch.Labels.DetachFromDisposeScope();
        FlatAdamW optimizer = learner.Optimizer;
        learner.Model.train();
        return () =>
        {
            using var scope = NewDisposeScope();
            learner.LossFunction(learner.Model.call(images), labels, TorchSharp.torch.nn.Reduction.Mean).backward();
            optimizer.Step();
            optimizer.ZeroGrad();
        };
    }

    /// <summary>Index sets drawn once, so that drawing them is not timed and every run gathers different images.</summary>
    private static Tensor[] RandomIndexSets(long items, int batchSize, int sets)
    {
        using var generator = new Generator(3);
        using var scope = NewDisposeScope();
        return Enumerable.Range(0, sets)
            .Select(_ => randperm(items, generator: generator).narrow(0, 0, Math.Min(batchSize, items)).clone().DetachFromDisposeScope())
            .ToArray();
    }
}
