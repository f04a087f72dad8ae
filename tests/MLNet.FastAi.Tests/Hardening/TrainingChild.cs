using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Vision.Pretrained;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// What a child process does: one-cycle training of a tiny ResNet on 40 MNIST digits (16×16, batch 8, flips and
/// warps, dropout), saving a checkpoint with optimizer and random state after every epoch, then writing the final
/// weights. It reports each training batch and each saved epoch on standard output, and can stop dead at a chosen
/// batch for the parent to kill it there, or start by resuming from a checkpoint.
/// </summary>
internal static class TrainingChild
{
    public const int Epochs = 4;
    public const double PeakLearningRate = 3e-3;

    /// <summary>Arguments: model folder, weights output file, "hold=epoch:batch" or "-", "resume=name:startEpoch" or "-".</summary>
    public static int Run(string[] args)
    {
        if (args.Length != 4) throw new ArgumentException("expected: <model folder> <weights out> <hold=e:b|-> <resume=name:epoch|->");
        string models = args[0], weightsOut = args[1];
        (int Epoch, int Batch)? hold = args[2] == "-" ? null : ParsePair(args[2]["hold=".Length..]);
        string? resumeName = null;
        int startEpoch = 0;
        if (args[3] != "-")
        {
            var parts = args[3]["resume=".Length..].Split(':');
            (resumeName, startEpoch) = (parts[0], int.Parse(parts[1]));
        }

        TorchRuntime.EnsureInitialized();
        set_num_threads(1);
        using var data = ImageDataLoaders.FromSplits(MnistSample.Take("training", 4), MnistSample.Take("training", 1, skip: 4), options: new ImageDataOptions
        {
            ImageSize = 16, BatchSize = 8, Seed = 3, Normalization = NormalizationStats.Mnist, Augmentation = AugmentationOptions.Default,
        });
        using var learn = Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
            Seed = 5, ModelDirectory = models,
        });
        if (resumeName is not null) learn.Load(resumeName);
        learn.FitOneCycle(Epochs, PeakLearningRate, startEpoch: startEpoch, callbacks: new Callback[]
        {
            new SaveModelCallback(fileName: "run", everyEpoch: true, withOptimizer: true),
            new Reporter(hold),
        });
        using (var file = File.Create(weightsOut))
            TorchSharpStateDict.Write(file, learn.Model.state_dict().Select(kv => (kv.Key, kv.Value)));
        Console.WriteLine("done");
        return 0;
    }

    private static (int, int) ParsePair(string text)
    {
        var parts = text.Split(':');
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }

    private sealed class Reporter((int Epoch, int Batch)? hold) : Callback
    {
        public override int Order => 65;  // after SaveModelCallback

        public override void BeforeBatch()
        {
            if (!Learner.IsTraining) return;
            Console.WriteLine($"batch {Learner.Epoch}:{Learner.Iteration}");
            if (hold is { } h && h.Epoch == Learner.Epoch && h.Batch == Learner.Iteration)
            {
                Console.WriteLine("holding");
                Thread.Sleep(Timeout.Infinite);  // the parent kills the process here, in the middle of the epoch
            }
        }

        public override void AfterEpoch() => Console.WriteLine($"saved {Learner.Epoch}");
    }
}
