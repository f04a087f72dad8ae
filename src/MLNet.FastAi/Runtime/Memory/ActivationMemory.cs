namespace MLNet.FastAi.Runtime;

/// <summary>
/// An estimate of the memory a ResNet's training step takes for one batch, before anything is allocated: the
/// activations autograd keeps for the backward pass (every convolution, batch norm, ReLU and residual sum of the body,
/// at each stage's resolution), scaled by a factor measured on this package's training loop.
/// </summary>
internal static class ActivationMemory
{
    /// <summary>What the estimate needs of a ResNet body: blocks per stage, and whether its blocks are bottlenecks (and their expansion).</summary>
    internal readonly record struct BodyShape(IReadOnlyList<int> BlocksPerStage, bool Bottleneck, int Expansion);

    /// <summary>
    /// The bytes of the activations one training step of <paramref name="batch"/> images of <paramref name="size"/>
    /// pixels keeps for the backward pass (2 bytes a value in bfloat16). The process needs more than this (gradients
    /// in flight, allocator slack: ResNet-18 at 224 px, batch 64, peaked at 1.8 GB with glibc's defaults and settled at
    /// 3.5 GB with memory retention, against 2.2 GB here), so a configuration refused for this much cannot train.
    /// </summary>
    public static long TrainingBytes(BodyShape architecture, int size, int batch, int bytesPerValue = sizeof(float)) =>
        (long)(bytesPerValue * FloatsPerImage(architecture, size) * batch);

    /// <summary>The float values autograd keeps for one image.</summary>
    internal static double FloatsPerImage(BodyShape architecture, int size)
    {
        static double Area(double side) => side * side;
        double stem = Area(Math.Ceiling(size / 2.0));
        double total = 64 * stem * 3;                 // conv1, bn1, relu
        double side = Math.Ceiling(size / 4.0);
        total += 64 * Area(side) * 3;                 // max pool output and its int64 indices
        for (int stage = 0; stage < architecture.BlocksPerStage.Count; stage++)
        {
            int width = 64 << stage;
            if (stage > 0) side = Math.Ceiling(side / 2);
            double area = Area(side);
            for (int block = 0; block < architecture.BlocksPerStage[stage]; block++)
            {
                total += !architecture.Bottleneck
                    ? width * area * 7                                   // conv, bn, relu, conv, bn, sum, relu
                    : (width * 6 + width * architecture.Expansion * 4) * area;  // two conv-bn-relu, conv-bn, sum, relu
                if (block == 0 && (stage > 0 || architecture.Expansion > 1))
                    total += width * architecture.Expansion * area * 2;  // the shortcut's conv and bn
            }
        }
        return total;
    }
}
