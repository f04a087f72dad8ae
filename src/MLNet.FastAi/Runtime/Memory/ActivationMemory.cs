namespace MLNet.FastAi.Runtime;

/// <summary>
/// An estimate, before anything is allocated, of the memory one training step of a ResNet holds at its peak (the end of
/// the forward pass): the activations autograd keeps for the backward pass, the gradient in flight, and the
/// parameters' gradients and AdamW moments. It counts what the package's modules keep since they release each block's
/// intermediates when the block returns: per convolution the batch norm's input and the ReLU's output (which is also
/// the next convolution's input), per block its output, the input batch; of the stem its convolution's output, the max
/// pool's, and a byte or two per pooled value (<see cref="Vision.Modules.CompactStemTail"/>).
/// Measured in fresh processes with freed memory handed back at once (so resident memory is what is in use), ResNet-18
/// trained unfrozen from 32 px, batch 8, to 224 px, batch 128: the estimate was 4–19% above the measured peak
/// (bench/RESULTS.md; <c>TrainingMemoryEstimateTests</c> checks it at 160 px).
/// </summary>
internal static class ActivationMemory
{
    /// <summary>What the estimate needs of a ResNet body: blocks per stage, and whether its blocks are bottlenecks (and their expansion).</summary>
    internal readonly record struct BodyShape(IReadOnlyList<int> BlocksPerStage, bool Bottleneck, int Expansion);

    /// <summary>
    /// The bytes one training step of <paramref name="batch"/> images of <paramref name="size"/> pixels holds at its
    /// peak (activations at <paramref name="bytesPerValue"/> bytes a value: 2 in bfloat16; parameters in float32).
    /// What a retaining allocator keeps beyond it is <see cref="MemoryRetention"/>'s to bound.
    /// </summary>
    public static long TrainingBytes(BodyShape architecture, int size, int batch, int bytesPerValue = sizeof(float)) =>
        (long)(bytesPerValue * (FloatsPerImage(architecture, size) * batch)) + StemExtraBytes(size, batch) +
        ParameterStateBytes(architecture) + RuntimeBytes;

    /// <summary>
    /// What the stem keeps beyond <see cref="FloatsPerImage"/> when it is too small for
    /// <see cref="Vision.Modules.CompactStemTail"/>: per pooled value the ReLU's four outputs and the max pool's int64
    /// index, less the two bytes <see cref="FloatsPerImage"/> counts for the offset.
    /// </summary>
    private static long StemExtraBytes(int size, int batch)
    {
        double stemSide = Math.Ceiling(size / 2.0), pooledSide = Math.Ceiling(size / 4.0);
        if (64.0 * stemSide * stemSide >= Vision.Modules.CompactStemTail.MinimumValuesPerImage) return 0;
        return (long)(64 * pooledSide * pooledSide * batch * (4 * sizeof(float) + sizeof(long) - 2));
    }

    /// <summary>
    /// What a first fit adds besides tensors: JIT-compiled code, the managed heap's growth, libtorch's thread pools and
    /// kernel caches (10–33 MiB measured at 32–96 px on a 2-core machine; 33 at 32 px, batch 8, where it is most of the step).
    /// </summary>
    private const long RuntimeBytes = 48L << 20;

    /// <summary>The float values one image keeps through a training step: what autograd saves, and the gradient in flight.</summary>
    internal static double FloatsPerImage(BodyShape architecture, int size)
    {
        static double Area(double side) => side * side;
        double stemArea = Area(Math.Ceiling(size / 2.0));
        double total = 3.0 * size * size;                  // the input batch
        total += 64 * stemArea;                            // conv1's output (StemExtraBytes adds what a small stem keeps)
        double side = Math.Ceiling(size / 4.0);
        total += 64 * Area(side) * 1.5;                    // the max pool's output, its maxima's window offsets (up to 2 bytes)
        int inputWidth = 64;
        for (int stage = 0; stage < architecture.BlocksPerStage.Count; stage++)
        {
            int width = 64 << stage, output = width * architecture.Expansion;
            double inputArea = Area(side);
            if (stage > 0) side = Math.Ceiling(side / 2);
            double area = Area(side);
            for (int block = 0; block < architecture.BlocksPerStage[stage]; block++)
            {
                if (!architecture.Bottleneck)
                    total += width * area * 4;             // bn1 input, relu1 output, bn2 input, block output
                else
                {
                    // torchvision's v1.5 bottleneck strides in its 3×3 convolution: the first 1×1 runs at the input's size.
                    double firstArea = block == 0 ? inputArea : area;
                    total += width * firstArea * 2 + width * area * 2 + output * area * 2;
                }
                if (block == 0 && (stage > 0 || inputWidth != output))
                    total += output * area;                // the shortcut's batch norm input
                inputWidth = output;
            }
        }
        return total + 64 * stemArea;                      // the gradient in flight, at most one stem-sized tensor
    }

    /// <summary>
    /// The parameters' gradients and AdamW's two moments (float32), and the copy of the parameters alive while the
    /// optimizer moves them into its contiguous buffers: four values per parameter.
    /// </summary>
    internal static long ParameterStateBytes(BodyShape architecture) => 4L * sizeof(float) * Parameters(architecture);

    /// <summary>The body's parameters and fastai's head for it (to 512 features, then the classes, counted as 1,000: an upper bound for most datasets).</summary>
    internal static long Parameters(BodyShape architecture)
    {
        long count = 3 * 64 * 49 + 2 * 64;
        int inputWidth = 64;
        for (int stage = 0; stage < architecture.BlocksPerStage.Count; stage++)
        {
            long width = 64 << stage, output = width * architecture.Expansion;
            for (int block = 0; block < architecture.BlocksPerStage[stage]; block++)
            {
                count += !architecture.Bottleneck
                    ? 9 * inputWidth * width + 9 * width * width + 4 * width
                    : inputWidth * width + 9 * width * width + width * output + 4 * width + 2 * output;
                if (block == 0 && (stage > 0 || inputWidth != output)) count += inputWidth * output + 2 * output;
                inputWidth = (int)output;
            }
        }
        long features = 2L * inputWidth;                   // AdaptiveConcatPool: average and max
        // batch norm, linear, batch norm, linear (fastai's linear layers after a batch norm have no bias)
        return count + 2 * features + features * 512 + 2 * 512 + 512 * 1000;
    }
}
