using System.Diagnostics;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Bench.Training;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Optimizers;
using TorchSharp;
using MLNet.FastAi.Vision;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Photos;

/// <summary>
/// <c>photo-speed</c>: the phases of a photo-size fit against bare TorchSharp loops over the same batches. Bare loops:
/// an unfrozen training step (forward, loss, backward, flat AdamW) and an eval forward. The learner: a frozen epoch
/// (training and validation), an unfrozen epoch, and <see cref="Learner.GetPreds"/>. <c>--part bare</c> or
/// <c>--part learner</c> runs one side, so that a script can run the bare loops in a process with the C allocator's
/// defaults (<c>MLNET_FASTAI_MALLOC=default</c>) beside the learner with the package's settings, in one sitting.
/// </summary>
internal static class PhotoSpeedBench
{
    public static int Run(BenchArgs args, BenchReport report)
    {
        string folder = Path.GetFullPath(args.Required("folder"));
        int size = args.Int("size", 224);
        int batch = args.Int("batch", 128);
        int? validBatch = args.Text("valid-batch") is null ? null : args.Int("valid-batch", batch);
        string part = args.Text("part") ?? "all";
        var cache = Enum.Parse<ImageCacheMode>(args.Text("cache") ?? "memory", ignoreCase: true);
        bool mixed = args.Flag("mixed-precision"), channelsLast = args.Flag("channels-last");
        args.RejectUnknown();
        if (part is not ("all" or "bare" or "learner")) throw new UsageException("--part must be all, bare or learner.");
        TorchRuntime.EnsureInitialized();
        report.Setting("folder", folder);
        report.Setting("size", size);
        report.Setting("batch", batch);
        report.Setting("validBatch", validBatch ?? 2 * batch);
        report.Setting("cache", cache.ToString());
        report.Setting("part", part);
        report.Setting("memoryRetention", MemoryRetention.Mode.ToString());
        report.Setting("mixedPrecision", mixed);
        report.Setting("channelsLast", channelsLast);
        report.Environment("torchThreads", get_num_threads());
        report.PrintSettings();

        // Resident memory beside the speed: retention trades one for the other.
        using var sampler = new PeakMemorySampler();
        using var data = ImageDataLoaders.FromFolder(folder, train: "train", valid: "valid", options: new ImageDataOptions
        {
            ImageSize = size, Resize = ResizeMethod.Crop, BatchSize = batch, ValidBatchSize = validBatch, Seed = 42, Cache = cache,
            Normalization = NormalizationStats.ImageNet,
        });
        long trained = EpochProbe.TrainedImages(data.Train.Count, batch);
        Learner NewLearner() => Learner.Vision(data, new VisionLearnerOptions
        {
            Pretrained = PretrainedSource.None, ShowProgress = false, Seed = 1, Device = ComputeDevice.Cpu, MixedPrecision = mixed, ChannelsLast = channelsLast,
        });

        if (part is "all" or "bare")
        {
            using var learner = NewLearner();
            learner.Unfreeze();
            using var train = data.Loader(data.Train, learner.Device, training: true, learner.Normalization);
            using var valid = data.Loader(data.Valid, learner.Device, training: false, learner.Normalization);
            var step = new FlatStep(learner);
            // A batch first, unmeasured, so that neither side pays for first-call set-up.
            RunTrain(learner.Model, train, step, maxBatches: 1);
            report.Figure("bare unfrozen training step", trained / RunTrain(learner.Model, train, step, int.MaxValue), "images/s");
            report.Figure("bare eval forward (validation batches)", data.Valid.Count / RunEval(learner.Model, valid), "images/s");
            // The loops above run the package's model, whose eval mode folds batch norm into the convolutions. These run
            // TorchSharp's own torchvision ResNet-18 with TorchSharp's AdamW: what a bare TorchSharp program runs.
            using var plain = torchvision.models.resnet18(num_classes: data.ClassCount);
            using var plainStep = new TorchAdamWStep(plain.parameters(), new HyperParameters { LearningRate = 1e-3 });
            RunTrain(plain, train, plainStep, maxBatches: 1);
            report.Figure("bare torchvision ResNet-18 training step", trained / RunTrain(plain, train, plainStep, int.MaxValue), "images/s");
            report.Figure("bare torchvision ResNet-18 eval forward", data.Valid.Count / RunEval(plain, valid), "images/s");
            report.Figure("bare loops: peak RssAnon", sampler.PeakAnonBytes / 1048576.0, "MiB");
            sampler.Reset();
        }
        if (part is "all" or "learner")
        {
            foreach (bool frozen in new[] { true, false })
            {
                using var learner = NewLearner();
                if (frozen) learner.Freeze(); else learner.Unfreeze();
                var probe = new PhaseTimer();
                learner.Fit(2, 1e-3, callbacks: new Callback[] { probe });
                string body = frozen ? "frozen" : "unfrozen";
                // The second epoch: the first pays for first-call set-up, as the bare loop's unmeasured batch does.
                report.Figure($"Learner.Fit {body} training phase (epoch 2)", trained / probe.Train[^1], "images/s");
                report.Figure($"Learner.Fit {body} validation phase (epoch 2)", data.Valid.Count / probe.Valid[^1], "images/s");
                if (!frozen) continue;
                learner.GetPreds(data.Valid);
                var watch = Stopwatch.StartNew();
                learner.GetPreds(data.Valid);
                report.Figure("Learner.GetPreds (validation images)", data.Valid.Count / watch.Elapsed.TotalSeconds, "images/s");
            }
            report.Figure("learner phases: peak RssAnon", sampler.PeakAnonBytes / 1048576.0, "MiB");
        }
        return 0;
    }

    /// <summary>Seconds for the training batches of one epoch (at most <paramref name="maxBatches"/>).</summary>
    private static double RunTrain(nn.Module<Tensor, Tensor> model, BatchLoader train, IStepOptimizer step, int maxBatches)
    {
        model.train();
        var watch = Stopwatch.StartNew();
        int done = 0;
        using var batches = train.Batches(0).GetEnumerator();
        while (done < maxBatches)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext()) break;
            nn.functional.cross_entropy(model.call(batches.Current.Images), batches.Current.Labels).backward();
            step.Step();
            step.ZeroGrad();
            done++;
        }
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Seconds for an eval forward over every validation batch.</summary>
    private static double RunEval(nn.Module<Tensor, Tensor> model, BatchLoader valid)
    {
        model.eval();
        using var _ = no_grad();
        var watch = Stopwatch.StartNew();
        using var batches = valid.Batches(0).GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext()) break;
            model.call(batches.Current.Images).argmax(1).sum().item<long>();
        }
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Seconds of each epoch's training and validation phases.</summary>
    private sealed class PhaseTimer : Callback
    {
        private long _start;

        public List<double> Train { get; } = new();

        public List<double> Valid { get; } = new();

        public override int Order => int.MaxValue;

        public override void BeforeTrain() => _start = Stopwatch.GetTimestamp();

        public override void AfterTrain() => Train.Add(Stopwatch.GetElapsedTime(_start).TotalSeconds);

        public override void BeforeValidate() => _start = Stopwatch.GetTimestamp();

        public override void AfterValidate() => Valid.Add(Stopwatch.GetElapsedTime(_start).TotalSeconds);
    }
}
