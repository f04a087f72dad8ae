using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Peers;

/// <summary>
/// <c>fine-tune-trace</c>: the package's side of a stage-by-stage comparison with the real fastai. It trains exactly
/// as <c>mlnet-fastai train DIR --train train --valid valid --image-size SIZE --batch-size BS --epochs 1 --seed S</c>
/// does (FromFolder, ImageNet normalization, pretrained resnet18, <c>FineTune(1)</c>) and writes a trace in the shape
/// of <c>bench/accuracy/fastai/fastai_run.py --trace</c>, so that <c>bench/accuracy/compare_traces.py</c> can put the
/// two side by side.
/// </summary>
/// <remarks>
/// <para>Per fit of <c>FineTune</c> (stage 1 frozen, stage 2 unfrozen) the trace holds the first <c>--steps</c>
/// training steps (learning rate and momentum of every parameter group, raw and smoothed loss), the parameter groups at
/// the start of the fit (elements, trainable tensors, which keep training while frozen, which get no weight decay,
/// hyper-parameters), the leaf modules by train/eval mode at the first step, and how far the batch-norm running
/// statistics moved. The head's layers, its initial weights and every batch norm's eps and momentum come once.</para>
/// <para>Names follow fastai's (<c>wd</c>, <c>mom</c>, <c>sqr_mom</c>, <c>eps</c>, <c>force_train</c>, <c>do_wd</c>)
/// so that one script reads both traces. Fields only the package has, or only fastai has, are named apart.</para>
/// <para><c>--pixels-out DIR</c> writes the normalized pixels the model sees for the first validation images (taken
/// from the first validation batch of stage 1, in validation order), one <c>.npy</c> of [3, H, W] per image, and
/// <c>index.json</c> naming each image by its path relative to the data folder; fastai_run.py <c>--pixels-files</c>
/// reads that index to dump fastai's pixels of the very same files.</para>
/// </remarks>
internal static class FineTuneTrace
{
    /// <summary><c>mlnet-fastai train</c>'s fine-tune defaults (TrainCommand.DefaultBaseLr, --freeze-epochs 1).</summary>
    private const double BaseLr = 2e-3;
    private const int FreezeEpochs = 1;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Run(BenchArgs args, BenchReport report)
    {
        string data = Path.GetFullPath(args.Required("data"));
        int size = args.Int("size", 224);
        int batch = args.Int("bs", 64);
        int seed = args.Int("seed", 1, min: 0);
        int epochs = args.Int("epochs", 1);
        string output = args.Required("out");
        int steps = args.Int("steps", 20);
        string? pixelsOut = args.Text("pixels-out");
        int pixelCount = args.Int("pixels-count", 8);
        args.RejectUnknown();
        TorchRuntime.EnsureInitialized();
        report.Environment("torch", TorchRuntime.Describe());
        var clock = Stopwatch.StartNew();

        // TrainingDataOptions.ImageOptions with the options named above and every other at its CLI default.
        var dataOptions = new ImageDataOptions
        {
            BatchSize = batch,
            ImageSize = size,
            Cache = ImageCacheMode.Auto,
            Log = Console.WriteLine,
            Seed = seed,
            OnBadImage = BadImageHandling.Fail,
        };
        using var loaders = ImageDataLoaders.FromFolder(data, "train", "valid", null, null, dataOptions);
        Console.WriteLine($"Data: {loaders.Train.Count} training and {loaders.Valid.Count} validation images; images {loaders.Pipeline}; seed {loaders.Seed}.");

        // ModelOptions.Build for resnet18 without --weights: ML.NET's ImageNet weights, auto device, quiet learner;
        // TrainCommand adds a non-live ProgressCallback (the epoch table) and its history, which only reads.
        var trace = new TraceCallback(steps, pixelsOut, pixelCount, data);
        var learnerOptions = new VisionLearnerOptions
        {
            Architecture = ResNetArchitecture.ResNet18,
            Pretrained = PretrainedSource.MLNetImageNet,
            Device = ComputeDevice.Auto,
            Seed = seed,
            ShowProgress = false,
            Callbacks = new Callback[] { new ProgressCallback(Console.Out, live: false), trace },
        };
        using var learner = Learner.Vision(loaders, learnerOptions);
        trace.DescribeModel(learner);

        var fitClock = Stopwatch.StartNew();
        learner.FineTune(epochs, BaseLr, FreezeEpochs);
        fitClock.Stop();
        var (validLoss, validMetrics) = learner.Validate();

        var run = new JsonObject
        {
            ["tool"] = "mlnet-fastai",
            ["package"] = typeof(Learner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0],
            ["torch"] = TorchRuntime.Describe(),
            ["seed"] = seed,
            ["method"] = loaders.Pipeline.Resize.ToString().ToLowerInvariant(),
            ["size"] = size,
            ["bs"] = batch,
            ["valid_bs"] = loaders.ValidBatchSize,
            ["epochs"] = epochs,
            ["threads"] = torch.get_num_threads(),
            ["device"] = learner.Device.type.ToString(),
            ["train"] = loaders.Train.Count,
            ["valid"] = loaders.Valid.Count,
            ["classes"] = loaders.ClassCount,
            ["normalization"] = learner.Normalization.ToString(),
            ["valid_accuracy"] = validMetrics["accuracy"],
            ["valid_loss"] = validLoss,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["fit_seconds"] = Math.Round(fitClock.Elapsed.TotalSeconds, 2),
            ["valid_first_files"] = new JsonArray(loaders.Valid.Paths.Take(pixelCount).Select(p => (JsonNode)Path.GetRelativePath(data, p)).ToArray()),
        };
        var document = new JsonObject
        {
            ["run"] = run,
            ["model_head"] = trace.HeadText,
            ["head_init"] = trace.HeadInit,
            ["batchnorm"] = trace.NormSettings,
            ["stages"] = trace.Stages,
        };
        File.WriteAllText(output, document.ToJsonString(Json));
        report.Figure("valid accuracy", validMetrics["accuracy"], "");
        report.Figure("valid loss", validLoss, "");
        Console.WriteLine($"Wrote the trace of {trace.Stages.Count} stage(s) to {output}" + (pixelsOut is null ? "" : $" and the validation pixels to {pixelsOut}"));
        return 0;
    }

    /// <summary>
    /// Records each fit of fine_tune as fastai_run.py's StepTrace does. Runs after the Recorder (50), so that the
    /// smoothed loss already includes this step, and after the ParamScheduler (10), which set this step's rates.
    /// </summary>
    private sealed class TraceCallback(int steps, string? pixelsOut, int pixelCount, string dataRoot) : Callback
    {
        private readonly List<(string Name, Tensor Mean, Tensor Var)> _statsAtFitStart = new();
        private JsonObject _current = new();
        private int _step;
        private bool _pixelsWritten;

        public override int Order => 70;

        public JsonArray Stages { get; } = new();

        public string HeadText { get; private set; } = "";

        public JsonArray HeadInit { get; private set; } = new();

        public JsonObject NormSettings { get; private set; } = new();

        /// <summary>The head's layers and initial weights, and every batch norm's settings: once, before any fit.</summary>
        public void DescribeModel(Learner learner)
        {
            var head = learner.CnnModel.Head;
            HeadText = "FastAiHead(\n" + "  (pool): concat pooling [max, avg] over H×W, flatten\n" +
                       string.Join("\n", head.named_children().Select(c => $"  ({c.name}): {Describe(c.module)}")) + "\n)";
            HeadInit = Statistics(head.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
                .Concat(head.named_buffers().Where(b => b.name.Contains("running", StringComparison.Ordinal))));
            var norms = learner.Model.named_modules().Where(m => m.module is BatchNorm1d or BatchNorm2d).ToList();
            NormSettings = new JsonObject
            {
                ["count"] = norms.Count,
                ["eps_counts"] = Counts(norms.Select(m => G(((NormBase)m.module).eps))),
                ["momentum_counts"] = Counts(norms.Select(m => G(((NormBase)m.module).momentum ?? double.NaN))),
            };
        }

        public override void BeforeFit()
        {
            var learner = Learner;
            var model = learner.CnnModel;
            var names = model.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
            var groups = new JsonArray();
            var parameterGroups = model.ParameterGroups();
            for (int g = 0; g < parameterGroups.Count; g++)
            {
                var members = parameterGroups[g].Select(p => (Name: names[p.Handle], Parameter: p)).ToList();
                var h = learner.Hypers[g];
                groups.Add(new JsonObject
                {
                    ["group"] = g,
                    ["tensors"] = members.Count,
                    ["elements"] = members.Sum(m => m.Parameter.numel()),
                    ["trainable_tensors"] = members.Count(m => m.Parameter.requires_grad),
                    ["trainable_elements"] = members.Where(m => m.Parameter.requires_grad).Sum(m => m.Parameter.numel()),
                    // fastai's force_train: what FreezeTo keeps trainable in frozen groups (batch norm with TrainBatchNorm).
                    ["force_train_tensors"] = members.Count(m => learner.Options.TrainBatchNorm && learner.IsNormParameter(m.Name)),
                    // fastai's do_wd off: Learner.CreateOptimizer's rule, no decay on batch norm and biases.
                    ["no_wd_tensors"] = members.Count(m => !DecaysLikeLearner(learner, m.Name)),
                    ["no_wd_names_sample"] = new JsonArray(members.Where(m => !DecaysLikeLearner(learner, m.Name)).Take(3).Select(m => (JsonNode)m.Name).ToArray()),
                    ["hypers"] = Hypers(h),
                });
            }
            _current = new JsonObject
            {
                ["stage"] = Stages.Count + 1,
                ["n_epoch"] = learner.EpochCount,
                ["n_iter"] = null,
                ["frozen_idx"] = learner.FrozenGroups,
                ["groups_at_fit_start"] = groups,
                ["steps"] = new JsonArray(),
            };
            Stages.Add(_current);
            _step = 0;
            ForgetStats();
            foreach (var (name, bn) in NormModules())
                _statsAtFitStart.Add((name, bn.running_mean!.detach().clone().DetachFromDisposeScope(), bn.running_var!.detach().clone().DetachFromDisposeScope()));
        }

        public override void BeforeBatch()
        {
            if (pixelsOut is null || _pixelsWritten || Learner.IsTraining || Learner.Iteration != 0) return;
            WritePixels(Learner.Images!, Learner.Data.Valid.Paths);
            _pixelsWritten = true;
        }

        public override void AfterBatch()
        {
            var learner = Learner;
            if (!learner.IsTraining || _step >= steps || learner.Loss is null) return;
            if (_step == 0)
            {
                _current["n_iter"] = learner.IterationCount;
                var leaves = learner.Model.named_modules().Where(m => !m.module.children().Any()).ToList();
                _current["leaf_modules_by_mode"] = new JsonArray(leaves
                    .GroupBy(m => (Type: m.module.GetType().Name, Train: m.module.training))
                    .OrderBy(g => g.Key.Type, StringComparer.Ordinal).ThenBy(g => g.Key.Train)
                    .Select(g => (JsonNode)new JsonObject { ["type"] = g.Key.Type, ["train"] = g.Key.Train, ["count"] = g.Count() }).ToArray());
                _current["modules_in_eval_mode"] = new JsonArray(learner.Model.named_modules()
                    .Where(m => !m.module.training).Select(m => (JsonNode)m.name).ToArray());
                _current["hypers_at_first_step"] = new JsonArray(learner.Hypers.Select(h => (JsonNode)Hypers(h)).ToArray());
                _current["bn_running_stats_after_first_step"] = StatsChange();
                // FlatAdamW's step counter after this step: 1 when Freeze/Unfreeze cleared the state before the fit.
                _current["opt_step_after_first_step"] = learner.Optimizer.StepCount;
            }
            ((JsonArray)_current["steps"]!).Add(new JsonObject
            {
                ["step"] = _step,
                ["pct_train"] = learner.PctTrain,
                ["lr"] = new JsonArray(learner.Hypers.Select(h => (JsonNode)h.LearningRate).ToArray()),
                ["mom"] = new JsonArray(learner.Hypers.Select(h => (JsonNode)h.Momentum).ToArray()),
                ["loss"] = (double)learner.Loss.item<float>(),
                ["smooth_loss"] = learner.Recorder.SmoothLoss,
            });
            _step++;
        }

        /// <summary>How far the running statistics moved over the whole training phase (before validation reads them).</summary>
        public override void AfterTrain() => _current["bn_running_stats_after_train"] = StatsChange();

        public override void AfterFit() => ForgetStats();

        /// <summary>Mean |Δ| of running mean and variance since the fit began, for the body's and the head's batch norms.</summary>
        private JsonObject StatsChange()
        {
            using var scope = NewDisposeScope();
            var result = new JsonObject();
            foreach (var part in new[] { "body", "head" })
            {
                double meanDelta = 0, varDelta = 0;
                long elements = 0;
                int layers = 0, moved = 0;
                foreach (var ((name, bn), start) in NormModules().Zip(_statsAtFitStart))
                {
                    if (!name.StartsWith(part + ".", StringComparison.Ordinal)) continue;
                    double dm = (bn.running_mean! - start.Mean).abs().sum().item<float>();
                    double dv = (bn.running_var! - start.Var).abs().sum().item<float>();
                    meanDelta += dm;
                    varDelta += dv;
                    elements += start.Mean.numel();
                    layers++;
                    if (dm > 0 || dv > 0) moved++;
                }
                result[part] = new JsonObject
                {
                    ["layers"] = layers,
                    ["layers_moved"] = moved,
                    ["mean_abs_change_running_mean"] = elements == 0 ? 0 : meanDelta / elements,
                    ["mean_abs_change_running_var"] = elements == 0 ? 0 : varDelta / elements,
                };
            }
            return result;
        }

        private IEnumerable<(string Name, NormBase Module)> NormModules() =>
            Learner.Model.named_modules().Where(m => m.module is BatchNorm1d or BatchNorm2d).Select(m => (m.name, (NormBase)m.module));

        private void ForgetStats()
        {
            foreach (var (_, mean, variance) in _statsAtFitStart)
            {
                mean.Dispose();
                variance.Dispose();
            }
            _statsAtFitStart.Clear();
        }

        /// <summary>The first images of the first validation batch, one [3, H, W] float32 .npy each, and index.json.</summary>
        private void WritePixels(Tensor images, IReadOnlyList<string> paths)
        {
            Directory.CreateDirectory(pixelsOut!);
            int count = (int)Math.Min(pixelCount, images.shape[0]);
            var files = new JsonArray();
            using var scope = NewDisposeScope();
            for (int i = 0; i < count; i++)
            {
                string relative = Path.GetRelativePath(dataRoot, paths[i]).Replace('\\', '/');
                var entry = TorchvisionExport.WriteNpy(pixelsOut!, i.ToString("D2", CultureInfo.InvariantCulture), images[i].to(ScalarType.Float32));
                files.Add(new JsonObject { ["index"] = i, ["file"] = relative, ["npy"] = entry["file"]!.GetValue<string>(), ["shape"] = entry["shape"]!.DeepClone() });
            }
            var stats = Learner.Normalization;
            var index = new JsonObject
            {
                ["tool"] = "mlnet-fastai",
                ["source"] = "Learner.Images of the first validation batch of stage 1 (the model's input: resized, /255, normalized)",
                ["data"] = dataRoot,
                ["pipeline"] = Learner.Data.Pipeline.ToString(),
                ["normalization"] = new JsonObject
                {
                    ["mean"] = new JsonArray(stats.Mean.Select(v => (JsonNode)(double)v).ToArray()),
                    ["std"] = new JsonArray(stats.Std.Select(v => (JsonNode)(double)v).ToArray()),
                },
                ["files"] = files,
            };
            File.WriteAllText(Path.Combine(pixelsOut!, "index.json"), index.ToJsonString(Json));
        }
    }

    /// <summary>Learner.CreateOptimizer's weight-decay rule: everything but batch-norm parameters and biases, unless told otherwise.</summary>
    private static bool DecaysLikeLearner(Learner learner, string name) =>
        learner.Options.WeightDecayOnNormAndBias || !(learner.IsNormParameter(name) || name.EndsWith(".bias", StringComparison.Ordinal));

    private static JsonObject Hypers(MLNet.FastAi.Training.Optimizers.HyperParameters h) => new()
    {
        ["wd"] = h.WeightDecay,
        ["sqr_mom"] = h.SquareMomentum,
        ["lr"] = h.LearningRate,
        ["mom"] = h.Momentum,
        ["eps"] = h.Epsilon,
    };

    /// <summary>One head layer as PyTorch prints it, with the settings that matter here.</summary>
    private static string Describe(nn.Module module) => module switch
    {
        BatchNorm1d bn => $"BatchNorm1d({bn.weight!.shape[0]}, eps={G(bn.eps)}, momentum={G(bn.momentum ?? double.NaN)}, affine=True)",
        Linear linear => $"Linear(in_features={linear.weight.shape[1]}, out_features={linear.weight.shape[0]}, bias={linear.bias is not null})",
        SeededDropout dropout => $"Dropout(p={G(dropout.Probability)}) [SeededDropout]",
        _ => module.GetType().Name,
    };

    /// <summary>Shape, mean, std, min and max of each tensor: the initial head (std shows the init's fan and gain).</summary>
    private static JsonArray Statistics(IEnumerable<(string Name, Tensor Value)> tensors)
    {
        using var scope = NewDisposeScope();
        var list = new JsonArray();
        foreach (var (name, value) in tensors)
        {
            var v = value.detach().to(ScalarType.Float32).cpu();
            list.Add(new JsonObject
            {
                ["name"] = name,
                ["shape"] = new JsonArray(v.shape.Select(d => (JsonNode)d).ToArray()),
                ["mean"] = (double)v.mean().item<float>(),
                ["std"] = v.numel() > 1 ? (double)v.std().item<float>() : 0.0,
                ["min"] = (double)v.min().item<float>(),
                ["max"] = (double)v.max().item<float>(),
            });
        }
        return list;
    }

    private static JsonObject Counts(IEnumerable<string> values)
    {
        var counts = new JsonObject();
        foreach (var g in values.GroupBy(v => v).OrderBy(g => g.Key, StringComparer.Ordinal)) counts[g.Key] = g.Count();
        return counts;
    }

    /// <summary>Python's way of printing a float (1e-05, 0.1), so that counts keyed by value match fastai's.</summary>
    private static string G(double value) => value.ToString("G6", CultureInfo.InvariantCulture).ToLowerInvariant();
}
