namespace MLNet.FastAi.Tests.Support;

/// <summary>
/// Why the numeric bounds that compare two computations of the same network are what they are. None comes from one
/// CPU: each follows from float32's rounding (u = 2⁻²⁴ ≈ 6e-8 per operation) and the size of what is compared, with a
/// margin for what differs between CPUs and engines: the kernel libtorch, oneDNN or ONNX Runtime picks (AVX2, AVX-512,
/// a batch of one or of many), its order of summation, fused multiply-adds, fast algorithms such as Winograd.
/// </summary>
/// <remarks>
/// The same file is linked into the stock-consumer tests, so both projects read one definition.
/// </remarks>
internal static class Tolerances
{
    /// <summary>
    /// Probabilities of one network computed twice with different kernels: TorchSharp against ONNX Runtime (a saved zip,
    /// an ONNX export), a batch against single images, NCHW against NHWC. A logit is the end of a chain of dot products of
    /// up to 4,608 terms; rounding grows about as √n × u ≈ 4e-6 of the terms per layer, which over a ResNet's twenty
    /// layers stays near 1e-5 of the activations' size (seen: 1e-7 to 1e-6). A probability moves by at most a quarter
    /// of the change of its logit's gap to the others (the softmax's slope), and with the logits within ±10 of each
    /// other, as in every network tested (a probability above 0.9999 means a gap over 9), that is below 3e-5: 1e-4
    /// leaves a factor of three, and a real defect (a wrong layer, a resize that differs) moves probabilities by 1e-2.
    /// </summary>
    public const double Probability = 1e-4;

    /// <summary>
    /// Activations (features) of one network computed with different kernels, relative to their largest magnitude: the
    /// same rounding as <see cref="Probability"/> before the softmax, about 1e-5 of the activations' size, with room.
    /// </summary>
    public const double RelativeActivation = 1e-4;
}
