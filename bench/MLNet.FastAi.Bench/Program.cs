using MLNet.FastAi.Bench.DataPath;
using MLNet.FastAi.Bench.Gpu;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Bench.Peers;
using MLNet.FastAi.Bench.Prediction;
using MLNet.FastAi.Bench.Training;
using MLNet.FastAi.Runtime;
using TorchSharp;

namespace MLNet.FastAi.Bench;

internal static class Program
{
    private const string Usage = """
        MLNet.FastAi.Bench <command> [options] [--json <file>] [--threads N]

          data --folder <dir> [--device cpu|cuda] [--batch 128] [--repeats 20] [--step-repeats 10] [--warmup 3] [--decode-runs 3]
              Decode+cache throughput of the folder (ImageDataLoaders.FromFolder), and batch assembly with and without
              augmentation as a share of one ResNet-18 training step on the same batch (target: at most 5%).

          train --folder <dir> [--device cpu|cuda] [--epochs 5] [--batch 128] [--arch resnet18] [--lr 1e-3]
                [--pretrained] [--augment] [--progress] [--warmup-batches 3] [--size N]
              Learner.Fit epochs (body frozen, then unfrozen) against a bare TorchSharp loop on the same batches with the
              same FlatAdamW, and the bare loop with torch.optim.AdamW; resident memory after every epoch (target: ≥ 95%).

          estimator-memory --folder <dir> [--size 224] [--epochs 1] [--batch 64] [--keep]
              Resident memory after FastAiCnn's Fit (fine_tune unfrozen epochs only, images cached in memory) and after
              the fitted model scored the validation images: training state released (the default) or kept (--keep).

          predict --folder <dir> [--model <zip>] [--save <zip>] [--device cpu|cuda] [--epochs 1] [--limit N]
                  [--latency-images 200] [--repeats 3] (and the train options that shape the learner)
              A saved ML.NET zip: batch Transform and PredictionEngine throughput and latency, next to Learner.GetPreds
              and Learner.Predict. Without --model, trains one first (--epochs) and saves it (--save, else a temp file).

          photos-make --out <dir> [--count 1000] [--classes 5] [--valid-pct 0.2] [--seed 1]
              Writes a folder of synthetic JPEG photos of pet-photo sizes (train/ and valid/ of class folders).

          photos-upscale --from <folder of class folders> --out <dir> [--train-per-class 300] [--valid-per-class 100]
              Small images (e.g. Fashion-MNIST PNGs) upscaled onto 160×120 / 120×160 photo canvases, for accuracy checks.

          photos --folder <dir> [--size 224] [--item-size 460] [--cache auto|memory|disk|stream] [--cache-dir <dir>]
                 [--epochs 2] [--batch 64] [--unfrozen] [--augment] [--min-scale 0.75] [--arch resnet18] [--trace-every N]
              Loaders' build time (decoding or checks), Learner.Fit images/s per phase and epoch, and peak RssAnon/RssFile
              per epoch beside the level before loading; --trace-every N prints managed and C heap sizes every N batches.

          photo-speed --folder <dir> [--size 224] [--batch 128] [--valid-batch N] [--part all|bare|learner] [--cache memory]
                      [--mixed-precision] [--channels-last]
              Bare unfrozen training step and eval forward against Learner.Fit (frozen, unfrozen: training and
              validation phases) and Learner.GetPreds, on the same batches. Run --part bare with
              MLNET_FASTAI_MALLOC=default to compare with the C allocator's defaults (bench/photo-speed.sh).

          gpu-smoke [--cpu-only]
              Conv + batch norm + linear forward/backward on CUDA and CPU with identical weights; exits 3 when CUDA is
              not available, 1 when the results differ. --cpu-only compares the CPU with itself (a dry run).

          export-torchvision-resnet18 --out <dir> [--batch 4] [--size 224] [--seed 1]
              The pretrained resnet18 body as the learner builds it (ML.NET weights, ImageNet stats folded in), one .npy
              per tensor under torchvision's state-dict names, with a seeded normalized batch and its pooled features;
              bench/accuracy/fastai/convert_weights.py makes fastai's resnet18-f37072fd.pth from it.

          fine-tune-trace --data <dir> --out <file.json> [--size 224] [--bs 64] [--seed 1] [--epochs 1] [--steps 20]
                          [--pixels-out <dir>] [--pixels-count 8]
              Trains as 'mlnet-fastai train <dir> --train train --valid valid --image-size N --batch-size N --epochs N
              --seed S' does and writes a trace in the shape of fastai_run.py --trace (per stage: the first steps' lr and
              momentum per group and losses, groups, weight decay, train/eval modules, batch-norm statistics; the head
              and its init). --pixels-out: the first validation images' normalized pixels (.npy) and index.json.
              bench/accuracy/compare_traces.py puts it beside fastai's.

        --json writes the figures as JSON; --threads sets torch's intra-op CPU threads (default: libtorch's choice).
        Folders: fastai's mnist_png layout (training/, testing/), train/ + valid/, or class subfolders (80/20 split).
        libtorch: the packaged one, or MLNET_FASTAI_LIBTORCH=<torch/lib folder> when built with -p:FastAiTorchBackend=none.
        """;

    private static int Main(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return argv.Length == 0 ? 2 : 0;
        }
        BenchArgs args;
        string? json;
        int? threads;
        try
        {
            args = BenchArgs.Parse(argv);
            json = args.Text("json");
            threads = args.Text("threads") is null ? null : args.Int("threads", 1);
        }
        catch (UsageException e)
        {
            return Fail(e.Message, usage: true);
        }

        var report = new BenchReport(args.Command);
        try
        {
            if (threads is { } count)
            {
                // Before any TorchSharp work, so every operation uses the same intra-op thread count.
                TorchRuntime.EnsureInitialized();
                torch.set_num_threads(count);
                report.Setting("threads", count);
            }
            int code = args.Command switch
            {
                "data" => DataBench.Run(args, report),
                "train" => TrainBench.Run(args, report),
                "estimator-memory" => EstimatorMemoryBench.Run(args, report),
                "predict" => PredictBench.Run(args, report),
                "gpu-smoke" => GpuSmoke.Run(args, report),
                "photos-make" => Photos.SyntheticPhotos.Run(args, report),
                "photos-upscale" => Photos.SyntheticPhotos.Upscale(args, report),
                "photos" => Photos.PhotoBench.Run(args, report),
                "photo-speed" => Photos.PhotoSpeedBench.Run(args, report),
                "export-torchvision-resnet18" => TorchvisionExport.Run(args, report),
                "fine-tune-trace" => FineTuneTrace.Run(args, report),
                _ => throw new UsageException($"Unknown command '{args.Command}'."),
            };
            if (json is not null) report.Save(json);
            return code;
        }
        catch (UsageException e)
        {
            return Fail(e.Message, usage: true);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            // The package's errors name the file or option at fault; the stack adds nothing for a benchmark user.
            report.Note($"failed: {e.Message}");
            if (json is not null) report.Save(json);
            return Fail($"{e.GetType().Name}: {e.Message}", usage: false);
        }
    }

    private static int Fail(string message, bool usage)
    {
        Console.Error.WriteLine($"error: {message}");
        if (usage) Console.Error.WriteLine("Run 'MLNet.FastAi.Bench --help' for the commands and their options.");
        return usage ? 2 : 1;
    }
}
