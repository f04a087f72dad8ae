using MLNet.FastAi.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>A residual block; the ONNX exporter and weight importers walk its parts.</summary>
internal abstract class ResidualBlock : Module<Tensor, Tensor>
{
    protected ResidualBlock(string name) : base(name) { }

    /// <summary>The main path as (convolution, batch norm, ReLU after?) steps, in order.</summary>
    public abstract IReadOnlyList<(Conv2d Conv, BatchNorm2d Norm, bool Relu)> MainPath { get; }

    /// <summary>The projection shortcut (1×1 convolution and batch norm), or null for identity.</summary>
    public abstract (Conv2d Conv, BatchNorm2d Norm)? Shortcut { get; }

    public override Tensor forward(Tensor input)
    {
        // The block's intermediates are released when it returns, not when the batch ends: autograd keeps what it
        // saved for the backward pass, and everything else (all of it under no_grad) is freed, as PyTorch frees a
        // tensor nothing refers to.
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var (conv, norm, relu) in MainPath)
        {
            x = Convolutions.WithNorm(conv, norm, x);
            if (relu) x = x.relu_();
        }
        var identity = Shortcut is { } s ? Convolutions.WithNorm(s.Conv, s.Norm, input) : input;
        return scope.MoveToOuter(x.add_(identity, KeptScalars.One).relu_());
    }

    protected static Sequential? Projection(long inPlanes, long outPlanes, long stride) =>
        stride != 1 || inPlanes != outPlanes
            ? Sequential(("0", Conv2d(inPlanes, outPlanes, 1, stride: stride, bias: false)), ("1", BatchNorm2d(outPlanes)))
            : null;

    protected static (Conv2d, BatchNorm2d)? AsPair(Sequential? projection) =>
        projection is null ? null : ((Conv2d)projection[0], (BatchNorm2d)projection[1]);
}

/// <summary>torchvision's BasicBlock: conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.</summary>
internal sealed class BasicBlock : ResidualBlock
{
    // Field names are the state-dict names torchvision uses; RegisterComponents reads them.
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Sequential? downsample;

    public BasicBlock(long inPlanes, long planes, long stride) : base(nameof(BasicBlock))
    {
        conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        downsample = Projection(inPlanes, planes, stride);
        RegisterComponents();
        MainPath = new[] { (conv1, bn1, true), (conv2, bn2, false) };
    }

    public override IReadOnlyList<(Conv2d Conv, BatchNorm2d Norm, bool Relu)> MainPath { get; }

    public override (Conv2d Conv, BatchNorm2d Norm)? Shortcut => AsPair(downsample);
}

/// <summary>torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3×3 convolution).</summary>
internal sealed class Bottleneck : ResidualBlock
{
    public const int Expansion = 4;

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Conv2d conv3;
    private readonly BatchNorm2d bn3;
    private readonly Sequential? downsample;

    public Bottleneck(long inPlanes, long planes, long stride) : base(nameof(Bottleneck))
    {
        conv1 = Conv2d(inPlanes, planes, 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        conv3 = Conv2d(planes, planes * Expansion, 1, bias: false);
        bn3 = BatchNorm2d(planes * Expansion);
        downsample = Projection(inPlanes, planes * Expansion, stride);
        RegisterComponents();
        MainPath = new[] { (conv1, bn1, true), (conv2, bn2, true), (conv3, bn3, false) };
    }

    public override IReadOnlyList<(Conv2d Conv, BatchNorm2d Norm, bool Relu)> MainPath { get; }

    public override (Conv2d Conv, BatchNorm2d Norm)? Shortcut => AsPair(downsample);
}
