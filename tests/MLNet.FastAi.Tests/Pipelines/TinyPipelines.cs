using Microsoft.ML;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// Small inputs for the estimator's tests: a few MNIST digits of three classes, and options that train the tiny ResNet
/// at 16×16 for one epoch, so a fit takes about a second on one core.
/// </summary>
internal static class TinyPipelines
{
    public static readonly string[] Digits = ["3", "5", "8"];

    /// <summary>Options for a one-epoch tiny fit (constant learning rate, no pretrained body, CPU).</summary>
    public static FastAiCnnOptions Options(int? seed = 1) => new()
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, Schedule = TrainingSchedule.Constant, Epochs = 1,
        ImageSize = 16, BatchSize = 8, Device = ComputeDevice.Cpu, Seed = seed,
    };

    /// <summary><paramref name="perDigit"/> training images of each of <see cref="Digits"/>, after skipping <paramref name="skip"/>.</summary>
    public static ImageRow[] Rows(int perDigit, int skip = 0) =>
        MnistSample.Take("training", perDigit, skip).Where(t => Digits.Contains(t.Label))
            .Select(t => new ImageRow { ImagePath = t.Path, Label = t.Label }).ToArray();

    /// <summary>The fitted MapValueToKey of <see cref="Digits"/> (keys in that order), for training and validation rows alike.</summary>
    public static ITransformer KeyMapping(MLContext context) =>
        context.Transforms.Conversion.MapValueToKey("Label").Fit(context.Data.LoadFromEnumerable(Digits.Select(d => new ImageRow { ImagePath = "", Label = d })));

    /// <summary>A counter of the training loop's events, to show that a refused fit did not start.</summary>
    public sealed class BatchCounter : FastAi.Training.Callbacks.Callback
    {
        public int Batches;
        public int Epochs;

        public override void AfterBatch() => Interlocked.Increment(ref Batches);

        public override void AfterEpoch() => Epochs++;
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
