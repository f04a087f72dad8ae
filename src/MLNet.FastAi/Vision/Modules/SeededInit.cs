using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// Weight initializations drawn from a given generator. TorchSharp's <c>init.kaiming_normal_</c> takes none and so
/// draws from libtorch's process-wide generator, which any other model or thread in the process also draws from.
/// </summary>
internal static class SeededInit
{
    /// <summary>
    /// He initialization for layers followed by ReLU: normal with standard deviation <c>√2 / √fan</c>, computed as
    /// PyTorch's <c>kaiming_normal_</c> does (gain √2 for ReLU and for leaky ReLU of slope 0), so a generator in the
    /// same state draws the same weights. A null generator draws from the process-wide one.
    /// </summary>
    public static void KaimingNormal(Tensor weight, long fan, Generator? generator)
    {
        using var _ = no_grad();
        weight.normal_(0, Math.Sqrt(2.0) / Math.Sqrt(fan), generator);
    }

    /// <summary>Output channels times the kernel's area: PyTorch's <c>fan_out</c> of a convolution weight.</summary>
    public static long FanOut(Tensor weight) => weight.shape[0] * weight.shape.Skip(2).Aggregate(1L, (a, d) => a * d);

    /// <summary>Input features times the kernel's area: PyTorch's <c>fan_in</c> (a linear layer's input width).</summary>
    public static long FanIn(Tensor weight) => weight.shape[1] * weight.shape.Skip(2).Aggregate(1L, (a, d) => a * d);
}
