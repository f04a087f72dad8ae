using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// How the body runs a convolution and the batch norm after it. Two things here are not plain <c>conv.call</c>:
/// <list type="bullet">
/// <item>Mixed precision by hand (TorchSharp has no autocast): a bfloat16 input runs its convolution with a bfloat16
/// copy of the float32 weight (the copy is part of the graph, so gradients reach the float32 weight and the optimizer
/// keeps float32 masters); in training, batch norm keeps float32 parameters and statistics and takes the bfloat16
/// input as it is (libtorch's mixed-type batch norm).</item>
/// <item>In eval mode the batch norm is folded into the convolution (scaled weights plus a bias), as inference
/// engines do and as the ONNX export does: one pass over each activation instead of two. It is recomputed at every
/// call from the current weights and statistics, so it can never go stale, and it stays differentiable.</item>
/// </list>
/// </summary>
internal static class Convolutions
{
    /// <summary><c>norm(conv(input))</c>.</summary>
    public static Tensor WithNorm(Conv2d conv, BatchNorm2d norm, Tensor input)
    {
        if (norm.training) return norm.call(Apply(conv, input));
        var scale = norm.weight! / (norm.running_var! + norm.eps).sqrt();
        var weight = conv.weight! * scale.view(-1, 1, 1, 1);
        var bias = norm.bias! - norm.running_mean! * scale;
        if (conv.bias is { } convBias) bias = bias + convBias * scale;
        return nn.functional.conv2d(input, weight.to(input.dtype), bias.to(input.dtype), conv.stride, conv.padding, conv.dilation, conv.groups);
    }

    /// <summary><c>conv(input)</c> in the input's precision.</summary>
    public static Tensor Apply(Conv2d conv, Tensor input)
    {
        if (input.dtype == conv.weight!.dtype) return conv.call(input);
        using var weight = conv.weight.to(input.dtype);
        return nn.functional.conv2d(input, weight, conv.bias?.to(input.dtype), conv.stride, conv.padding, conv.dilation, conv.groups);
    }
}
