using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// Convolutions in the input's precision. TorchSharp has no autocast, so mixed precision is done by hand where it
/// pays: a bfloat16 input runs its convolution with a bfloat16 copy of the float32 weight (the copy is part of the
/// graph, so gradients reach the float32 weight, and the optimizer keeps float32 masters); batch norm keeps float32
/// parameters and statistics and takes the bfloat16 input as it is (libtorch's mixed-type batch norm).
/// </summary>
internal static class Convolutions
{
    public static Tensor Apply(Conv2d conv, Tensor input)
    {
        if (input.dtype == conv.weight!.dtype) return conv.call(input);
        using var weight = conv.weight.to(input.dtype);
        return nn.functional.conv2d(input, weight, conv.bias?.to(input.dtype), conv.stride, conv.padding, conv.dilation, conv.groups);
    }
}
