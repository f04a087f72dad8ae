using System.CommandLine;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Cli.Training;

/// <summary>The network options of <c>train</c> and <c>lr-find</c>: architecture, starting weights and device.</summary>
internal sealed class ModelOptions
{
    public Option<string?> Arch { get; } = Options.Choice(OptionKey.Architecture.Flag!, "The ResNet body.", "resnet18", "resnet18", "resnet34", "resnet50", "resnet18-cntk");
    public Option<string?> Weights { get; } = Options.Text(OptionKey.WeightsFile.Flag!, "Pretrained body weights: a torchvision state dict (.pth/.pt), .safetensors, or a TorchSharp file (.dat/.bin).", helpName: "file");
    public Option<bool> Pretrained { get; } = Options.Flag(OptionKey.Pretrained, "Start from pretrained weights (the default for resnet18 and resnet18-cntk, whose ImageNet weights ship offline with ML.NET; other architectures need --weights).");
    public Option<bool> NoPretrained { get; } = Options.Flag("--no-pretrained", "Start from random weights.");
    public Option<string?> Device { get; } = Options.Choice(OptionKey.Device.Flag!, $"Where to train: CUDA when available (auto), or always cpu or cuda. The tool package carries the CPU libtorch only; for CUDA run the tool built without it (-p:FastAiTorchBackend=none) with {TorchRuntime.LibTorchEnvironmentVariable} set to a CUDA libtorch folder (a CUDA PyTorch's torch/lib).", "auto", "auto", "cpu", "cuda");

    /// <summary>Flags that set one learner setting each.</summary>
    private readonly RecipeFlags<VisionLearnerOptions> _settings = new();

    public ModelOptions()
    {
        _settings.Switch(OptionKey.MixedPrecision, "bfloat16 convolutions with float32 master weights (fastai's to_fp16); for GPUs with tensor cores and CPUs with bfloat16 instructions.", (o, on) => o with { MixedPrecision = on });
        _settings.Switch(OptionKey.ChannelsLast, "Channels-last (NHWC) activations, the layout tensor cores prefer.", (o, on) => o with { ChannelsLast = on });
        _settings.Number(OptionKey.WeightDecay, $"Decoupled weight decay (fastai's wd) [default: {Defaults.WeightDecay}].", (o, wd) => o with { WeightDecay = wd });
        _settings.Switch(OptionKey.WeightDecayOnNormAndBias, "Weight decay on BatchNorm and bias parameters too (fastai's wd_bn_bias).", (o, on) => o with { WeightDecayOnNormAndBias = on });
        _settings.Number(OptionKey.LabelSmoothing, "Label smoothing of the loss (fastai's LabelSmoothingCrossEntropy eps) [default: 0, plain cross-entropy].", (o, eps) => o with { LabelSmoothing = eps });
    }

    /// <summary>The learner's defaults, which the flags' defaults show.</summary>
    private static readonly VisionLearnerOptions Defaults = new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Arch, Weights, Pretrained, NoPretrained, Device }) command.Add(option);
        _settings.AddTo(command);
    }

    /// <summary>The learner options the command line asks for; conflicting choices are usage errors.</summary>
    public VisionLearnerOptions Build(ParseResult parse)
    {
        var architecture = ResNetArchitecture.FromName(parse.GetValue(Arch)!);
        string? weights = parse.GetValue(Weights);
        bool pretrained = parse.GetValue(Pretrained), random = parse.GetValue(NoPretrained);
        if (pretrained && random) throw CliException.Usage("Give --pretrained or --no-pretrained, not both.");
        if (random && weights is not null) throw CliException.Usage("--weights loads pretrained weights; it cannot go with --no-pretrained.");
        bool hasOfflineWeights = architecture.Block == ResidualBlockKind.Basic && architecture.Name is "resnet18" or "resnet18-cntk";
        if (pretrained && weights is null && !hasOfflineWeights)
            throw CliException.Usage($"--pretrained: no pretrained {architecture.Name} weights ship with this tool (only resnet18 and resnet18-cntk); pass --weights <file>, or --no-pretrained.");
        PretrainedSource? source = weights is not null ? PretrainedSource.File
            : random ? PretrainedSource.None
            : hasOfflineWeights ? PretrainedSource.MLNetImageNet
            : PretrainedSource.None;
        var device = parse.GetValue(Device) switch { "cpu" => ComputeDevice.Cpu, "cuda" => ComputeDevice.Cuda, _ => ComputeDevice.Auto };
        if (device == ComputeDevice.Cuda && !TorchRuntime.IsCudaAvailable)
        {
            if (TorchRuntime.LibTorchFolder is { } folder)
                throw CliException.Failure($"--device cuda: no CUDA device is usable with the libtorch in '{folder}' ({TorchRuntime.LibTorchEnvironmentVariable}): " +
                                           "it is a CPU build, or no GPU or driver is present. Use a CUDA libtorch, or --device cpu.");
            // Only a build without its own libtorch can use another one: beside the packaged CPU libtorch, TorchSharp
            // loads that copy too and libtorch aborts the process on the duplicate registrations.
            throw CliException.Failure("--device cuda: no CUDA device is usable. The tool package carries the CPU libtorch only; for CUDA run " +
                                       $"the tool built with -p:FastAiTorchBackend=none and {TorchRuntime.LibTorchEnvironmentVariable} set to a CUDA PyTorch's torch/lib folder, or use --device cpu.");
        }
        return _settings.Apply(Defaults, parse) with
        {
            Architecture = architecture,
            Pretrained = source,
            WeightsFile = weights is null ? null : InputPaths.RequireFile(weights, "weights file"),
            Device = device,
            ShowProgress = false,
        };
    }
}
