using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// The stem's batch norm, ReLU and max pool in training, keeping for the backward pass the batch norm's input and one
/// byte per pooled value (two for images over 252 px wide). Run as three autograd operations they keep that input, the
/// ReLU's output and the max pool's int64 indices: 23 bytes per pooled value more, at the network's largest resolution
/// (at 224 px, batch 128: 411 MB and 205 MB, a fifth of a step's peak, alive from the forward pass until the backward
/// pass reaches the stem). The byte is where in its window each maximum was, or that the ReLU cut it (a window's
/// maximum of ReLU outputs is zero exactly when the ReLU passed nothing there); batch norm's gradient is taken by its
/// formula from the kept input, in place. Nothing runs twice but the batch statistics.
/// <para>CPU only: for CUDA tensors libtorch runs the backward pass on a worker thread that TorchSharp's dispose scopes
/// do not reach, so the gradients this function hands back would wait for the garbage collector.</para>
/// </summary>
internal sealed class CompactStemTail : autograd.SingleTensorFunction<CompactStemTail>
{
    /// <summary>The offset of a pooled value the ReLU cut (no gradient flows back through it), in each offset type.</summary>
    private static long Cut(ScalarType offsetType) => offsetType == ScalarType.Byte ? byte.MaxValue : -1;

    public override string Name => nameof(CompactStemTail);

    /// <summary>
    /// The stem output per image (channels × pixels) from which the memory saved outweighs the function's own cost (a
    /// managed autograd node and a dozen small kernels per step): 64 channels of 32×32, i.e. 64-px images. Below it
    /// (28-px digits: 64 × 14 × 14) the three operations run as they are, keeping 23 bytes per pooled value more. Per
    /// image, not per batch, so what a step keeps grows with its batch as a straight line (<c>ActivationMemory</c>).
    /// </summary>
    public const long MinimumValuesPerImage = 64 * 32 * 32;

    /// <summary>Whether a step on <paramref name="convOutput"/> takes this path rather than the three operations.</summary>
    public static bool Applies(BatchNorm2d norm, MaxPool2d pool, Tensor convOutput) =>
        norm.training && is_grad_enabled() && convOutput.device_type == DeviceType.CPU && convOutput.dim() == 4 &&
        convOutput.numel() >= MinimumValuesPerImage * convOutput.shape[0] &&
        (pool.dilation ?? new long[] { 1 }).All(d => d == 1) && !pool.ceil_mode &&
        (pool.kernel_size[0] - 1) * convOutput.shape[^1] + pool.kernel_size[^1] - 1 < short.MaxValue;

    /// <summary><c>pool(relu(norm(convOutput)))</c>, updating the norm's running statistics as the module does.</summary>
    public static Tensor Apply(BatchNorm2d norm, MaxPool2d pool, Tensor convOutput) =>
        apply(convOutput, norm.weight!, norm.bias!, norm, pool);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, bias, norm, pool) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (BatchNorm2d)vars[3], (MaxPool2d)vars[4]);
        using var activation = Convolutions.TrainingNorm(norm, input).relu_();
        var (pooled, indices) = pool.forward_with_indices(activation);
        using (indices)
            ctx.save_for_backward(new List<Tensor> { input, weight, bias, WindowOffsets(pool, activation, pooled, indices) });
        ctx.save_data(nameof(BatchNorm2d.eps), norm.eps);
        ctx.save_data(nameof(MaxPool2d), pool);
        return pooled;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var pool = (MaxPool2d)ctx.get_data(nameof(MaxPool2d));
        var eps = (double)ctx.get_data(nameof(BatchNorm2d.eps));
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (input, weight, bias, offsets) = (saved[0], saved[1], saved[2], saved[3]);
        // libtorch calls this only when one of the three needs a gradient.
        var gradient = NormOutputGradient(pool, input, offsets, gradOutput);
        var (inputGradient, weightGradient, biasGradient) = NormBackward(input, weight, eps, gradient, input.requires_grad);
        // One entry per argument of Apply: the norm and the pool are not tensors and get none.
        return new List<Tensor>
        {
            Keep(scope, input.requires_grad ? inputGradient : null), Keep(scope, weight.requires_grad ? weightGradient : null),
            Keep(scope, bias.requires_grad ? biasGradient : null), null!, null!,
        };
    }

    /// <summary>
    /// Each pooled value's maximum as an offset from its window's first pixel in the flattened input plane (at most
    /// (k − 1)·(width + 1): one byte up to 126 pixels wide at 3×3, two bytes beyond), or <see cref="Cut"/> where the
    /// window's maximum is zero: the ReLU cut it, so no gradient reaches the batch norm there.
    /// </summary>
    private static Tensor WindowOffsets(MaxPool2d pool, Tensor activation, Tensor pooled, Tensor indices)
    {
        using var scope = NewDisposeScope();
        long width = activation.shape[3];
        var offsets = indices.sub_(WindowStarts(pool, pooled, width));
        using var cut = pooled.le(0);
        var type = OffsetType(pool, width);
        return scope.MoveToOuter(offsets.masked_fill_(cut, Cut(type)).to(type));
    }

    /// <summary>The narrowest integer type that holds every offset besides <see cref="Cut"/>'s.</summary>
    private static ScalarType OffsetType(MaxPool2d pool, long width) =>
        (pool.kernel_size[0] - 1) * width + pool.kernel_size[^1] - 1 < byte.MaxValue ? ScalarType.Byte : ScalarType.Int16;

    /// <summary>d loss / d norm output: each pooled gradient added at its window's maximum, none where the ReLU cut.</summary>
    private static Tensor NormOutputGradient(MaxPool2d pool, Tensor input, Tensor offsets, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var cut = offsets.eq(Cut(offsets.dtype));
        // A cut value adds nothing, at the plane's first pixel (its window may start in the padding).
        var index = offsets.to(ScalarType.Int64).add_(WindowStarts(pool, gradOutput, input.shape[3])).masked_fill_(cut, 0);
        var routed = gradOutput.masked_fill(cut, 0);
        long n = input.shape[0], c = input.shape[1];
        var gradient = zeros_like(input).view(n, c, -1)
            .scatter_add_(2, index.view(n, c, -1), routed.view(n, c, -1));
        return scope.MoveToOuter(gradient.view_as(input));
    }

    /// <summary>
    /// Where each pooled value's window starts in the flattened input plane (row · width + column; it may lie in the
    /// padding), as a tensor that broadcasts over a pooled [n, c, h, w] tensor.
    /// </summary>
    private static Tensor WindowStarts(MaxPool2d pool, Tensor pooled, long width)
    {
        long[] stride = pool.stride ?? pool.kernel_size, padding = pool.padding ?? new long[] { 0, 0 };
        using var rows = arange(pooled.shape[2], ScalarType.Int64).mul_(stride[0]).sub_(padding[0]).mul_(width).view(-1, 1);
        using var columns = arange(pooled.shape[3], ScalarType.Int64).mul_(stride[^1]).sub_(padding[^1]).view(1, -1);
        return rows.add(columns).view(1, 1, pooled.shape[2], pooled.shape[3]);
    }

    /// <summary>
    /// Batch norm's backward pass with batch statistics (x̂ = (x − μ)/σ): d/dγ = Σ g·x̂, d/dβ = Σ g, and
    /// d/dx = γ/σ · (g − Σg/m − x̂ · Σ g·x̂ / m), written as a·g + b·x + c per channel so it runs in place on g.
    /// In float32 throughout, as libtorch's kernel computes a bfloat16 batch norm's gradient (the products and the
    /// three terms, which cancel, would lose their low bits in bfloat16).
    /// </summary>
    private static (Tensor? Input, Tensor Weight, Tensor Bias) NormBackward(Tensor input, Tensor weight, double eps, Tensor routed, bool inputNeedsGradient)
    {
        long[] dims = { 0, 2, 3 };
        double count = input.numel() / input.shape[1];
        using var inputs = input.to(ScalarType.Float32);
        using var gradient = routed.to(ScalarType.Float32);
        var (variance, mean) = inputs.var_mean(dims, unbiased: false, keepdim: true);
        var invStd = variance.add(eps).rsqrt();
        var gradientSum = gradient.sum(dims, keepdim: true);
        Tensor dot;
        using (var product = gradient.mul(inputs))
            dot = product.sum(dims, keepdim: true);
        var normalizedDot = dot.sub(mean * gradientSum).mul(invStd);          // Σ g·x̂
        var weightGradient = normalizedDot.flatten();
        var biasGradient = gradientSum.flatten();
        if (!inputNeedsGradient) return (null, weightGradient, biasGradient);
        var scale = weight.view(1, -1, 1, 1) * invStd;                        // γ/σ
        var inputScale = -scale * invStd * normalizedDot / count;
        var shift = -scale * gradientSum / count - inputScale * mean;
        var inputGradient = gradient.mul_(scale).addcmul_(inputs, inputScale, 1).add_(shift);
        return (inputGradient.dtype == input.dtype ? inputGradient.alias() : inputGradient.to(input.dtype), weightGradient, biasGradient);
    }

    private static Tensor Keep(DisposeScope scope, Tensor? tensor) => tensor is null ? null! : scope.MoveToOuter(tensor);
}
