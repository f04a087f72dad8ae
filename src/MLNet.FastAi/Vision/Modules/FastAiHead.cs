using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// fastai's <c>create_head</c> for a body with <c>nf</c> features: concat pooling (max, then average) → flatten →
/// BN(2nf) → dropout(ps/2) → linear(2nf→512, no bias) → ReLU → BN(512) → dropout(ps) → linear(512→classes, no bias).
/// </summary>
internal sealed class FastAiHead : Module<Tensor, Tensor>
{
    private readonly BatchNorm1d bn1;
    private readonly SeededDropout drop1;
    private readonly Linear fc1;
    private readonly BatchNorm1d bn2;
    private readonly SeededDropout drop2;
    private readonly Linear fc2;

    /// <param name="bodyFeatures">Features per position the body produces.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="dropout">Dropout before the last linear layer; the first gets half.</param>
    /// <param name="generator">Draws the initial weights and the dropout masks; null uses the process-wide generator.</param>
    /// <param name="hiddenFeatures">Width of the hidden linear layer.</param>
    public FastAiHead(int bodyFeatures, int classes, double dropout = 0.5, Generator? generator = null, int hiddenFeatures = 512) : base("FastAiHead")
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least two classes.");
        if (!(dropout is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout must be in [0, 1).");
        BodyFeatures = bodyFeatures;
        Classes = classes;
        bn1 = BatchNorm1d(2 * bodyFeatures);
        drop1 = new SeededDropout(dropout / 2, generator);
        fc1 = Linear(2 * bodyFeatures, hiddenFeatures, hasBias: false);
        bn2 = BatchNorm1d(hiddenFeatures);
        drop2 = new SeededDropout(dropout, generator);
        fc2 = Linear(hiddenFeatures, classes, hasBias: false);
        RegisterComponents();
        InitializeLikeFastAi(generator);
    }

    public int BodyFeatures { get; }

    public int Classes { get; }

    public BatchNorm1d Norm1 => bn1;
    public Linear Hidden => fc1;
    public BatchNorm1d Norm2 => bn2;
    public Linear Output => fc2;

    /// <summary>fastai's AdaptiveConcatPool2d: [max, mean] over the spatial dimensions.</summary>
    public static Tensor ConcatPool(Tensor features) =>
        cat(new[] { features.amax(new long[] { 2, 3 }), features.mean(new long[] { 2, 3 }) }, 1);

    public override Tensor forward(Tensor features)
    {
        var x = ConcatPool(features);
        x = fc1.call(drop1.call(bn1.call(x))).relu_();
        return fc2.call(drop2.call(bn2.call(x)));
    }

    private void InitializeLikeFastAi(Generator? generator)
    {
        using var _ = no_grad();
        // fastai's BatchNorm(): weight 1, bias 1e-3; apply_init(head, kaiming_normal_) on the linear layers.
        foreach (var bn in new[] { bn1, bn2 })
        {
            init.ones_(bn.weight);
            bn.bias!.fill_(1e-3);
        }
        foreach (var linear in new[] { fc1, fc2 })
            SeededInit.KaimingNormal(linear.weight, SeededInit.FanIn(linear.weight), generator);
    }
}
