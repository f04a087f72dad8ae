using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;

namespace MLNet.FastAi.Training;

/// <summary>fastai's test-time augmentation, built on the learner's predictions.</summary>
public static class TestTimeAugmentation
{
    /// <summary>
    /// Test-time augmentation (fastai's <c>tta</c>): the mean of <paramref name="n"/> predictions with training
    /// augmentation, blended with the plain prediction as <c>lerp(augmented, plain, beta)</c>.
    /// </summary>
    /// <param name="learner">The learner whose network predicts.</param>
    /// <param name="split">The images; null means the validation set.</param>
    /// <param name="n">Augmented passes (fastai 4).</param>
    /// <param name="beta">Weight of the plain prediction (fastai 0.25).</param>
    /// <param name="augmentation">Augmentation to use; null takes the data's, else fastai's defaults.</param>
    public static PredictionSet Tta(this Learner learner, ImageSplit? split = null, int n = 4, double beta = 0.25, AugmentationOptions? augmentation = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "TTA needs at least one augmented pass.");
        if (!(beta is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be in [0, 1].");
        using var use = learner.Use(nameof(Tta));
        split ??= learner.Data.Valid;
        var augment = augmentation ?? learner.Data.Augmentation ?? AugmentationOptions.Default;
        var plain = learner.Collect(split, withLoss: false, augmentation: null, seed: learner.Data.Seed);
        var sum = plain.Probabilities.Select(row => new double[row.Length]).ToArray();
        for (int pass = 0; pass < n; pass++)
        {
            var augmented = learner.Collect(split, withLoss: false, augment, seed: learner.Data.Seed + 1 + pass);
            for (int i = 0; i < sum.Length; i++)
                for (int c = 0; c < sum[i].Length; c++) sum[i][c] += augmented.Probabilities[i][c];
        }
        var blended = sum.Select((row, i) => row.Select((s, c) => (float)((1 - beta) * s / n + beta * plain.Probabilities[i][c])).ToArray()).ToArray();
        return plain with { Probabilities = blended, Decoded = blended.Select(Learner.ArgMax).ToArray() };
    }
}
