using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Training;

/// <summary>Where a vision learner's body weights come from.</summary>
public enum PretrainedSource
{
    /// <summary>Random initialisation (fastai <c>pretrained=False</c>).</summary>
    None,
    /// <summary>
    /// The ImageNet ResNet-18 shipped offline by NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (resnet18 and
    /// resnet18-cntk architectures only). The default for those.
    /// </summary>
    MLNetImageNet,
    /// <summary>A weights file named by <see cref="VisionLearnerOptions.WeightsFile"/>: a torchvision state dict (.pth/.pt, .safetensors) or a TorchSharp file (.dat/.bin).</summary>
    File,
}

/// <summary>Options of <see cref="Learner.Vision"/>, with fastai's <c>vision_learner</c> defaults.</summary>
public sealed record VisionLearnerOptions
{
    /// <summary>The body architecture (fastai's <c>arch</c>); ResNet-18 by default.</summary>
    public ResNetArchitecture Architecture { get; init; } = ResNetArchitecture.ResNet18;

    /// <summary>Where the body's weights come from; null picks ML.NET's ImageNet weights for ResNet-18 and none otherwise.</summary>
    public PretrainedSource? Pretrained { get; init; }

    /// <summary>The weights file for <see cref="PretrainedSource.File"/>.</summary>
    public string? WeightsFile { get; init; }

    /// <summary>Dropout of the head's last layer; the first gets half (fastai <c>ps=0.5</c>).</summary>
    public double Dropout { get; init; } = 0.5;

    /// <summary>Validation metrics (fastai <c>metrics=</c>); accuracy by default.</summary>
    public IReadOnlyList<Func<Metric>> Metrics { get; init; } = new Func<Metric>[] { ClassificationMetrics.Accuracy };

    /// <summary>Extra callbacks for every fit (fastai <c>cbs=</c>).</summary>
    public IReadOnlyList<Callback> Callbacks { get; init; } = Array.Empty<Callback>();

    /// <summary>Default learning rate (fastai <c>lr=defaults.lr=1e-3</c>).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Decoupled weight decay (fastai's Adam default 0.01).</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Apply weight decay to BatchNorm parameters and biases too (fastai <c>wd_bn_bias=False</c>).</summary>
    public bool WeightDecayOnNormAndBias { get; init; }

    /// <summary>Keep BatchNorm layers trainable in frozen groups (fastai <c>train_bn=True</c>).</summary>
    public bool TrainBatchNorm { get; init; } = true;

    /// <summary>Momentum schedule of one-cycle training: start, middle, end (fastai <c>moms=(0.95,0.85,0.95)</c>).</summary>
    public (double Start, double Middle, double End) Momentums { get; init; } = (0.95, 0.85, 0.95);

    /// <summary>Label smoothing of the cross-entropy loss (0 = plain cross-entropy, fastai's default).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Device to train on: CUDA when available by default.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>Folder for checkpoints saved with <see cref="LearnerCheckpoints.Save"/> (fastai <c>path/model_dir</c>).</summary>
    public string ModelDirectory { get; init; } = "models";

    /// <summary>Seed for weight initialisation of the head and everything random in training; null leaves it unseeded.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Mixed precision (fastai's <c>to_fp16()</c>, here bfloat16): the body's convolutions run in bfloat16 while
    /// parameters, batch-norm statistics, the head, the loss and the optimizer's master weights stay float32. bfloat16
    /// keeps float32's range, so no loss scaling is needed. Off by default; worth it on GPUs with tensor cores (and
    /// CPUs with bfloat16 instructions). Saved models and ONNX exports are float32 either way.
    /// </summary>
    public bool MixedPrecision { get; init; }

    /// <summary>Channels-last (NHWC) activations, the layout tensor cores and oneDNN run fastest on. Off by default.</summary>
    public bool ChannelsLast { get; init; }

    /// <summary>Show a console progress bar and epoch table (fastai's ProgressCallback).</summary>
    public bool ShowProgress { get; init; } = true;

    /// <summary>Checks every value is in range (NaN never is).</summary>
    /// <exception cref="OptionException">Names the option at fault (<see cref="OptionException.Option"/>).</exception>
    public void Validate()
    {
        OptionChecks.HalfOpenFraction(OptionKey.Dropout, Dropout);
        OptionChecks.PositiveFinite(OptionKey.LearningRate, LearningRate);
        OptionChecks.NonNegativeFinite(OptionKey.WeightDecay, WeightDecay);
        OptionChecks.HalfOpenFraction(OptionKey.LabelSmoothing, LabelSmoothing);
        OptionChecks.Refuse(Pretrained != PretrainedSource.File || !string.IsNullOrWhiteSpace(WeightsFile), OptionKey.WeightsFile, WeightsFile,
            $"{OptionKey.WeightsFile} must name a file when {OptionKey.Pretrained} = File.");
        OptionChecks.Refuse(Pretrained is null || Enum.IsDefined(Pretrained.Value), OptionKey.Pretrained, Pretrained, $"{OptionKey.Pretrained} must be None, MLNetImageNet or File; got {Pretrained}.");
        OptionChecks.Refuse(Enum.IsDefined(Device), OptionKey.Device, Device, $"{OptionKey.Device} must be Auto, Cpu or Cuda; got {Device}.");
        OptionChecks.Momentums(OptionKey.Momentums, Momentums);
    }
}
