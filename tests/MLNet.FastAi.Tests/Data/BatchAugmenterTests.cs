using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Batching;
using MLNet.FastAi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Data;

/// <summary>The single projective grid reproduces exact identities and mirror images where the options say so.</summary>
public sealed class BatchAugmenterTests
{
    public BatchAugmenterTests() => TorchRuntime.EnsureInitialized();

    private static Tensor Images(int batch = 16) => rand(new long[] { batch, 3, 12, 10 }, generator: new Generator(7));

    [Fact]
    public void NothingEnabled_LeavesEveryPixelAsItWas()
    {
        using var scope = NewDisposeScope();
        using var augmenter = new BatchAugmenter(new AugmentationOptions { DoFlip = false, ProbabilityAffine = 0, MaxLighting = 0 });
        var x = Images();
        using var generator = new Generator(1);
        var y = augmenter.Apply(x, generator);
        Assert.True((y - x).abs().max().item<float>() < 1e-5, "an identity grid must resample every pixel onto itself");
    }

    [Fact]
    public void FlipOnly_MirrorsAboutHalfTheImages_AndKeepsTheOthers()
    {
        using var scope = NewDisposeScope();
        using var augmenter = new BatchAugmenter(new AugmentationOptions { DoFlip = true, ProbabilityAffine = 0, MaxLighting = 0 });
        var x = Images(64);
        using var generator = new Generator(2);
        var y = augmenter.Apply(x, generator);
        int flipped = 0;
        for (int i = 0; i < 64; i++)
        {
            bool same = (y[i] - x[i]).abs().max().item<float>() < 1e-5;
            bool mirrored = (y[i] - x[i].flip(2)).abs().max().item<float>() < 1e-5;
            Assert.True(same ^ mirrored, $"image {i} must be exactly itself or exactly its mirror image");
            if (mirrored) flipped++;
        }
        Assert.InRange(flipped, 16, 48); // p = 0.5 of 64
    }

    [Fact]
    public void LightingOnly_KeepsGeometry_AndMovesBrightnessWithinFastAisRange()
    {
        using var scope = NewDisposeScope();
        using var augmenter = new BatchAugmenter(new AugmentationOptions { DoFlip = false, ProbabilityAffine = 0, MaxLighting = 0.2f, ProbabilityLighting = 1 });
        var x = full(new long[] { 8, 3, 6, 6 }, 0.5f);   // logit(0.5) = 0: only the brightness shift remains
        using var generator = new Generator(3);
        var y = augmenter.Apply(x, generator);
        // brightness ~ U(0.4, 0.6) maps a mid-grey pixel to exactly that brightness.
        Assert.True(y.min().item<float>() >= 0.4f - 1e-5 && y.max().item<float>() <= 0.6f + 1e-5);
        Assert.True((y - y[.., .., 0, 0].unsqueeze(2).unsqueeze(3)).abs().max().item<float>() < 1e-6, "lighting is uniform within an image");
    }

    /// <summary>
    /// Presized images are averaged down first only when the crop covers more than twice the output (fastai's
    /// <c>_grid_sample</c>): at 41 → 21 px the align-corners grid lands on every second pixel and picks it exactly; at
    /// 41 → 5 px picking pixels would alias noise, and the averaged batch is smooth instead.
    /// </summary>
    [Fact]
    public void PresizedBatches_AreAveragedDown_OnlyPastTwiceTheOutputSize()
    {
        using var scope = NewDisposeScope();
        using var augmenter = new BatchAugmenter(null);
        var noise = rand(new long[] { 2, 3, 41, 41 }, generator: new Generator(9));
        var sizes = new[] { (41, 41), (41, 41) };

        var half = augmenter.Apply(noise, new Generator(1), new BatchGeometry(21, 1f, CropItems: false, Centered: true), sizes);
        var everySecond = noise.index(TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 41, 2), TensorIndex.Slice(0, 41, 2));
        Assert.True((half - everySecond).abs().max().item<float>() < 1e-5, "up to 2× the batch samples the presized pixels themselves");

        var tenth = augmenter.Apply(noise, new Generator(1), new BatchGeometry(5, 1f, CropItems: false, Centered: true), sizes);
        var picked = noise.index(TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 41, 10), TensorIndex.Slice(0, 41, 10));
        Assert.True(picked.std().item<float>() > 0.25f, "uniform noise picked pixel by pixel keeps its spread (1/sqrt(12))");
        Assert.True(tenth.std().item<float>() < 0.12f, $"an 8x shrink must average the noise, not pick pixels: std {tenth.std().item<float>():0.000}");
    }
}
