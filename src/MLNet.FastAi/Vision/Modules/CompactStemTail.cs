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
/// formula and written over the kept input (the stem convolution's float32 output), which is spent then, so the
/// backward pass allocates nothing of the input's size either (a bfloat16 or channels-last input takes one float32
/// copy). Nothing runs twice but the batch statistics and the pooled gradients' routing.
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
        convOutput.shape[0] > 0 && convOutput.numel() >= MinimumValuesPerImage * convOutput.shape[0] &&
        !(convOutput.requires_grad && convOutput.is_leaf) &&
        (pool.dilation ?? new long[] { 1 }).All(d => d == 1) && !pool.ceil_mode &&
        (pool.kernel_size[0] - 1) * convOutput.shape[^1] + pool.kernel_size[^1] - 1 < short.MaxValue;

    /// <summary>
    /// <c>pool(relu(norm(convOutput)))</c>, updating the norm's running statistics as the module does. Takes
    /// <paramref name="convOutput"/> over: the backward pass writes the gradient over it, or hands its memory back when
    /// no gradient is needed, so callers read nothing of it after that pass.
    /// </summary>
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
        var routing = new Routing(pool, offsets, gradOutput, input.shape[3]);
        // In float32 throughout, as libtorch's kernel computes a bfloat16 batch norm's gradient (the products and the
        // three terms, which cancel, would lose their low bits in bfloat16).
        bool overInput = input.dtype == ScalarType.Float32 && input.is_contiguous();
        var x = overInput ? input : empty(input.shape, ScalarType.Float32, device: input.device).copy_(input);
        if (!overInput) ReleaseStorage(input);  // spent once copied
        var (weightGradient, biasGradient, inputGradient) = NormBackward(x, weight, eps, routing, input.requires_grad);
        if (overInput && inputGradient is null) ReleaseStorage(input);
        if (inputGradient is not null && inputGradient.dtype != input.dtype) inputGradient = inputGradient.to(input.dtype);
        // One entry per argument of Apply: the norm and the pool are not tensors and get none.
        return new List<Tensor>
        {
            Keep(scope, inputGradient), Keep(scope, weight.requires_grad ? weightGradient : null),
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
    /// Batch norm's backward pass with batch statistics (x̂ = (x − μ)/σ), with g, the gradient of its output, nonzero
    /// only where the pool routed a pooled gradient: d/dγ = Σ g·x̂ and d/dβ = Σ g are sums over the pooled values, and
    /// d/dx = γ/σ · (g − Σg/m − x̂ · Σ g·x̂ / m), written as b·x + c + a·g per channel, is computed over
    /// <paramref name="x"/> itself, its dense terms first and then g's routed ones. So no tensor of the input's size is
    /// allocated (a dense g and the product g·x were two, 411 MB each at 224 px, batch 128). Returns no input
    /// gradient when none is needed, and leaves <paramref name="x"/> as it was then.
    /// </summary>
    private static (Tensor Weight, Tensor Bias, Tensor? Input) NormBackward(Tensor x, Tensor weight, double eps, Routing routing, bool inputNeedsGradient)
    {
        long[] dims = { 0, 2, 3 };
        double count = x.numel() / x.shape[1];
        var (variance, mean) = x.var_mean(dims, unbiased: false, keepdim: true);
        var invStd = variance.add(eps).rsqrt();
        var (gradientSum, dot) = routing.Sums(x);                              // Σ g, Σ g·x
        var normalizedDot = dot.sub(mean * gradientSum).mul(invStd);          // Σ g·x̂
        var weightGradient = normalizedDot.flatten();
        var biasGradient = gradientSum.flatten();
        if (!inputNeedsGradient) return (weightGradient, biasGradient, null);
        var scale = weight.to(ScalarType.Float32).view(1, -1, 1, 1) * invStd;     // γ/σ
        var inputScale = -scale * invStd * normalizedDot / count;
        var shift = -scale * gradientSum / count - inputScale * mean;
        x.mul_(inputScale).add_(shift);
        routing.AddTo(x, scale);
        return (weightGradient, biasGradient, x.detach());
    }

    /// <summary>
    /// Hands back the kept batch norm input's memory now, as PyTorch's nodes release their saved tensors once their
    /// backward has run: TorchSharp's custom nodes keep them until the graph goes (the batch's end). The tensor is the
    /// stem convolution's output, which no one else reads (<see cref="Apply"/>); a second backward pass through the
    /// same graph fails on its version, as any backward pass after an in-place change does.
    /// </summary>
    private static void ReleaseStorage(Tensor kept)
    {
        using var nothing = empty(0, kept.dtype, kept.device);
        kept.set_(nothing);
    }

    /// <summary>
    /// The pooled gradients and where in the batch norm's output each goes: the flattened-plane index of its window's
    /// maximum, or index 0 with a zero gradient where the ReLU cut the window. Built a slice of images at a time, so
    /// that the int64 indices libtorch's gather and scatter need stay small (≤ 32 MiB, 20 images at 224 px).
    /// </summary>
    private sealed class Routing(MaxPool2d pool, Tensor offsets, Tensor gradOutput, long width)
    {
        private const long SliceBytes = 32L << 20;

        /// <summary>Per channel Σ g and Σ g·x, shaped [1, C, 1, 1].</summary>
        public (Tensor GradientSum, Tensor Dot) Sums(Tensor x)
        {
            var gradientSum = zeros(new long[] { x.shape[1] }, ScalarType.Float32, x.device);
            var dot = zeros(new long[] { x.shape[1] }, ScalarType.Float32, x.device);
            foreach (var (start, length) in Slices())
            {
                using var scope = NewDisposeScope();
                var (index, routed) = Slice(start, length);
                gradientSum.add_(routed.sum(new long[] { 0, 2 }));
                dot.add_(routed.mul_(Plane(x, start, length).gather(2, index)).sum(new long[] { 0, 2 }));
            }
            return (gradientSum.view(1, -1, 1, 1), dot.view(1, -1, 1, 1));
        }

        /// <summary>Adds <paramref name="scale"/> (per channel) times g to <paramref name="x"/>, in place.</summary>
        public void AddTo(Tensor x, Tensor scale)
        {
            using var perChannel = scale.view(1, -1, 1);
            foreach (var (start, length) in Slices())
            {
                using var scope = NewDisposeScope();
                var (index, routed) = Slice(start, length);
                Plane(x, start, length).scatter_add_(2, index, routed.mul_(perChannel));
            }
        }

        /// <summary>Images [start, start + length) of a contiguous [N, C, H, W] tensor as [length, C, H·W], sharing its memory.</summary>
        private static Tensor Plane(Tensor x, long start, long length) => x.narrow(0, start, length).view(length, x.shape[1], -1);

        private IEnumerable<(long Start, long Length)> Slices()
        {
            long images = gradOutput.shape[0];
            long perSlice = Math.Max(1, SliceBytes / Math.Max(1, gradOutput.numel() / images * sizeof(long)));
            for (long start = 0; start < images; start += perSlice) yield return (start, Math.Min(perSlice, images - start));
        }

        private (Tensor Index, Tensor Routed) Slice(long start, long length)
        {
            var sliceOffsets = offsets.narrow(0, start, length);
            var sliceGradient = gradOutput.narrow(0, start, length);
            using var cut = sliceOffsets.eq(Cut(sliceOffsets.dtype));
            long channels = gradOutput.shape[1];
            // A cut value adds nothing, at the plane's first pixel (its window may start in the padding).
            using var starts = WindowStarts(pool, sliceGradient, width);
            var index = sliceOffsets.to(ScalarType.Int64).add_(starts).masked_fill_(cut, 0).reshape(length, channels, -1);
            var routed = sliceGradient.masked_fill(cut, 0).to(ScalarType.Float32).reshape(length, channels, -1);
            return (index, routed);
        }
    }

    private static Tensor Keep(DisposeScope scope, Tensor? tensor) => tensor is null ? null! : scope.MoveToOuter(tensor);
}
