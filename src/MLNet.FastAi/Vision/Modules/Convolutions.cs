using TorchSharp;
using MLNet.FastAi.Internal;
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
/// <item>1×1 convolutions (the ResNets' shortcuts, the bottlenecks' ends) keep off oneDNN's 1×1 kernels where libtorch
/// 2.10's oneDNN 3.7 was seen to fail on AVX-512 CPUs: a strided one runs unstrided over every <c>stride</c>-th pixel
/// (its strided backward crashed at 512 → 1024 channels, ResNet-50's shortcut), and a channels-last one runs as the
/// matrix product it is (its channels-last kernel, <c>brgconv_1x1:avx512_core</c>, gave outputs off by a third of
/// their size at 256 → 512, ResNet-18's last shortcut). The same sums either way.</item>
/// </list>
/// </summary>
internal static class Convolutions
{
    /// <summary><c>norm(conv(input))</c>.</summary>
    public static Tensor WithNorm(Conv2d conv, BatchNorm2d norm, Tensor input)
    {
        if (norm.training) return TrainingNorm(norm, Apply(conv, input));
        using var epsilon = norm.eps.ToScalar();
        var scale = norm.weight! / norm.running_var!.add(epsilon, KeptScalars.One).sqrt();
        var weight = conv.weight! * scale.view(-1, 1, 1, 1);
        var bias = norm.bias!.sub(norm.running_mean! * scale);
        if (conv.bias is { } convBias) bias = bias.add(convBias * scale, KeptScalars.One);
        return Convolve(conv, input, weight.to(input.dtype), bias.to(input.dtype));
    }

    /// <summary>
    /// TorchSharp's <c>BatchNorm.forward</c> in training mode, with the batch count incremented by a kept Scalar: its own
    /// <c>num_batches_tracked.add_(1)</c> makes an implicit Scalar nobody keeps alive, whose finalizer can free it while
    /// libtorch still reads it (seen under load: "Expected false to be true", from <c>c10::Scalar::toLong</c>).
    /// The same sums otherwise.
    /// </summary>
    internal static Tensor TrainingNorm(BatchNorm2d norm, Tensor input)
    {
        double factor = norm.momentum ?? 0;
        if (norm.track_running_stats && norm.num_batches_tracked is { } count)
        {
            count.add_(KeptScalars.One);
            if (factor == 0) factor = 1.0 / count.item<long>();
        }
        bool tracked = norm.track_running_stats;
        return nn.functional.batch_norm(input, tracked ? norm.running_mean : null, tracked ? norm.running_var : null, norm.weight, norm.bias,
            training: true, momentum: factor, eps: norm.eps);
    }

    /// <summary><c>conv(input)</c> in the input's precision.</summary>
    public static Tensor Apply(Conv2d conv, Tensor input)
    {
        if (input.dtype == conv.weight!.dtype) return Convolve(conv, input, conv.weight, conv.bias);
        using var weight = conv.weight.to(input.dtype);
        return Convolve(conv, input, weight, conv.bias?.to(input.dtype));
    }

    /// <summary><paramref name="conv"/>'s convolution with the given weight and bias.</summary>
    private static Tensor Convolve(Conv2d conv, Tensor input, Tensor weight, Tensor? bias)
    {
        bool strided = conv.stride.Any(s => s != 1), channelsLast = CnnModel.IsChannelsLast(input);
        if (!IsPointwise(conv) || !(strided || channelsLast))
            return nn.functional.conv2d(input, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups);
        // A 1x1 convolution with stride s sees only every s-th pixel: take those first, then no kernel needs a stride.
        using var sampled = strided
            ? input[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(step: conv.stride[0]), TensorIndex.Slice(step: conv.stride[1])]
            : input.alias();
        if (channelsLast)
        {
            // Channels-last, a 1x1 convolution is a matrix product over the channels of each pixel.
            using var pixels = sampled.permute(0, 2, 3, 1);
            using var weights = weight.flatten(1);
            using var output = nn.functional.linear(pixels, weights, bias);
            return output.permute(0, 3, 1, 2);
        }
        using var dense = sampled.contiguous();
        return nn.functional.conv2d(dense, weight, bias);
    }

    private static bool IsPointwise(Conv2d conv) =>
        // No explicit padding means a padding mode ("same", "valid"), which pads a 1x1 kernel by nothing.
        conv.groups == 1 && conv.kernel_size.All(k => k == 1) && (conv.padding?.All(p => p == 0) ?? true) && conv.dilation.All(d => d == 1);
}
