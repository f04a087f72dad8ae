using MLNet.FastAi.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training.Callbacks;

/// <summary>
/// Mixes each training batch with a shuffled copy of itself and scores the predictions against both sets of targets,
/// weighted by how much of each image was kept (fastai's <c>MixHandler</c>). Only training batches are mixed:
/// validation, <c>GetPreds</c>, TTA and interpretation see the images and loss as they are. Random draws come from
/// the learner's generator, so a seeded run repeats.
/// </summary>
public abstract class MixHandler : Callback
{
    private LossFunction? _unmixed;
    private Tensor? _shuffledTargets, _ownWeight;

    /// <summary>Mixing with Beta(<paramref name="alpha"/>, <paramref name="alpha"/>) weights.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not positive and finite.</exception>
    protected MixHandler(double alpha)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be positive and finite.");
        Alpha = alpha;
    }

    /// <summary>The Beta distribution's parameter: small values mix little, 1 draws the weight uniformly.</summary>
    public double Alpha { get; }

    /// <summary>Mixes a training batch; sets the images through <see cref="Learner.Images"/> and the targets' weights through <see cref="Mix"/>.</summary>
    protected abstract void MixBatch(Tensor images, Tensor targets);

    /// <inheritdoc/>
    public override void BeforeTrain()
    {
        _unmixed = Learner.LossFunction;
        Learner.LossFunction = MixedLoss;
    }

    /// <inheritdoc/>
    public override void BeforeBatch()
    {
        if (Learner.IsTraining) MixBatch(Learner.Images!, Learner.Targets!);
    }

    /// <inheritdoc/>
    public override void AfterBatch() => _shuffledTargets = _ownWeight = null;

    /// <inheritdoc/>
    public override void AfterTrain() => Restore();

    /// <inheritdoc/>
    public override void AfterCancelTrain() => Restore();

    /// <inheritdoc/>
    public override void AfterCancelFit() => Restore();

    /// <summary>
    /// The batch's loss is <paramref name="ownWeight"/> times the loss against its own targets plus the rest against
    /// <paramref name="shuffledTargets"/> (per image, or one weight for the batch).
    /// </summary>
    protected void Mix(Tensor shuffledTargets, Tensor ownWeight)
    {
        _shuffledTargets = shuffledTargets;
        _ownWeight = ownWeight;
    }

    /// <summary>A random order of <paramref name="count"/> images, on the batch's device.</summary>
    protected Tensor Shuffle(int count, Device device) => randperm(count, generator: Learner.Generator).to(device);

    /// <summary><paramref name="count"/> draws of Beta(<see cref="Alpha"/>, <see cref="Alpha"/>) on the CPU.</summary>
    protected Tensor DrawWeights(int count)
    {
        // Beta(a, a) as X / (X + Y) of two Gamma(a) draws.
        using var shape = full(count, Alpha, dtype: ScalarType.Float64);
        using var x = _standard_gamma(shape, Learner.Generator);
        using var y = _standard_gamma(shape, Learner.Generator);
        using var sum = x + y;
        return x / sum;
    }

    /// <summary>A whole number in [0, <paramref name="bound"/>) from the learner's generator.</summary>
    protected long DrawIndex(long bound)
    {
        using var drawn = randint(0, bound, [1], generator: Learner.Generator);
        return drawn.item<long>();
    }

    private Tensor MixedLoss(Tensor predictions, Tensor targets, nn.Reduction reduction)
    {
        var unmixed = _unmixed!;
        if (!Learner.IsTraining || _shuffledTargets is null || _ownWeight is null) return unmixed(predictions, targets, reduction);
        using var own = unmixed(predictions, targets, nn.Reduction.None);
        using var other = unmixed(predictions, _shuffledTargets, nn.Reduction.None);
        var perImage = other.lerp(own, _ownWeight.to(own.dtype));
        return reduction switch
        {
            nn.Reduction.Mean => perImage.mean(),
            nn.Reduction.Sum => perImage.sum(),
            _ => perImage,
        };
    }

    private void Restore()
    {
        if (_unmixed is not null && Learner.LossFunction == MixedLoss) Learner.LossFunction = _unmixed;
        _unmixed = null;
        _shuffledTargets = _ownWeight = null;
    }
}

/// <summary>
/// fastai's <c>MixUp</c>: each training image becomes a blend of itself and another image of the batch, weighted by
/// λ ~ Beta(α, α) kept at least ½ for the image's own share, and the loss blends the two targets likewise
/// (Zhang et al., mixup, 2018). fastai's default α is 0.4.
/// </summary>
public sealed class MixUp(double alpha = 0.4) : MixHandler(alpha)
{
    /// <inheritdoc/>
    protected override void MixBatch(Tensor images, Tensor targets)
    {
        int count = (int)targets.shape[0];
        using var drawn = DrawWeights(count);
        using var rest = drawn.neg().add_(KeptScalars.One);
        var own = max(drawn, rest).to(images.dtype).to(images.device);
        var order = Shuffle(count, images.device);
        Learner.Images = images.index_select(0, order).lerp(images, own.view(count, 1, 1, 1));
        Mix(targets.index_select(0, order), own);
    }
}

/// <summary>
/// fastai's <c>CutMix</c>: a random rectangle of each training image is replaced by the same rectangle of another image
/// of the batch, its area a share 1 − λ with λ ~ Beta(α, α), and the loss weighs the two targets by the areas
/// (Yun et al., CutMix, 2019). fastai's default α is 1.
/// </summary>
public sealed class CutMix(double alpha = 1.0) : MixHandler(alpha)
{
    /// <inheritdoc/>
    protected override void MixBatch(Tensor images, Tensor targets)
    {
        int count = (int)targets.shape[0];
        long height = images.shape[2], width = images.shape[3];
        double lambda;
        using (var drawn = DrawWeights(1)) lambda = drawn.item<double>();
        double side = Math.Sqrt(1 - lambda);
        long cutWidth = (long)Math.Round(width * side), cutHeight = (long)Math.Round(height * side);
        long centreX = DrawIndex(width), centreY = DrawIndex(height);
        long left = Math.Clamp(centreX - cutWidth / 2, 0, width), right = Math.Clamp(centreX + cutWidth / 2, 0, width);
        long top = Math.Clamp(centreY - cutHeight / 2, 0, height), bottom = Math.Clamp(centreY + cutHeight / 2, 0, height);
        var order = Shuffle(count, images.device);
        var mixed = images.clone();
        if (right > left && bottom > top)
        {
            var rows = TensorIndex.Slice(top, bottom);
            var columns = TensorIndex.Slice(left, right);
            mixed[TensorIndex.Ellipsis, rows, columns] = images.index_select(0, order)[TensorIndex.Ellipsis, rows, columns];
        }
        Learner.Images = mixed;
        double kept = 1 - (double)((right - left) * (bottom - top)) / (width * height);
        Mix(targets.index_select(0, order), tensor(kept, dtype: ScalarType.Float32, device: images.device));
    }
}
