using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// Dropout whose masks come from a given generator: in training mode each element is kept with probability
/// <c>1 − p</c> and scaled by <c>1/(1 − p)</c>; in eval mode the input passes unchanged (so exports hold no dropout).
/// TorchSharp's <c>Dropout</c> takes no generator and draws from libtorch's process-wide one.
/// </summary>
/// <remarks>The mask is drawn on the CPU, whatever the input's device, so a seed gives the same masks on a GPU.</remarks>
internal sealed class SeededDropout : Module<Tensor, Tensor>
{
    private readonly double _p;
    private readonly Generator? _generator;

    /// <param name="p">The probability of zeroing an element, in [0, 1).</param>
    /// <param name="generator">Where the masks come from; null draws from the process-wide generator.</param>
    public SeededDropout(double p, Generator? generator) : base(nameof(SeededDropout))
    {
        if (!(p is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout must be in [0, 1).");
        _p = p;
        _generator = generator;
    }

    public double Probability => _p;

    public override Tensor forward(Tensor input)
    {
        if (!training || _p == 0) return input.alias();
        using var keep = empty(input.shape, input.dtype, CPU).bernoulli_(1 - _p, _generator).div_(1 - _p);
        using var mask = keep.to(input.device);
        return input.mul(mask);
    }
}
