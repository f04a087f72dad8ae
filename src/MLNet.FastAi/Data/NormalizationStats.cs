namespace MLNet.FastAi.Data;

/// <summary>
/// Per-channel normalization of RGB pixels scaled to 0..1: <c>(x - Mean) / Std</c>. One value applies to every channel
/// (fastai's <c>mnist_stats</c> are single values), three values to R, G, B.
/// </summary>
/// <param name="Mean">Channel means (1 or 3 values).</param>
/// <param name="Std">Channel standard deviations (1 or 3 values, all positive).</param>
public sealed record NormalizationStats(IReadOnlyList<float> Mean, IReadOnlyList<float> Std)
{
    /// <summary>fastai's <c>imagenet_stats</c>.</summary>
    public static NormalizationStats ImageNet { get; } = new(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f });

    /// <summary>fastai's <c>cifar_stats</c>.</summary>
    public static NormalizationStats Cifar { get; } = new(new[] { 0.491f, 0.482f, 0.447f }, new[] { 0.247f, 0.243f, 0.261f });

    /// <summary>fastai's <c>mnist_stats</c>.</summary>
    public static NormalizationStats Mnist { get; } = new(new[] { 0.131f }, new[] { 0.308f });

    /// <summary>No normalization: pixels stay in 0..1.</summary>
    public static NormalizationStats None { get; } = new(new[] { 0f }, new[] { 1f });

    /// <summary>The mean of channel <paramref name="channel"/> (0 = R), broadcasting single values.</summary>
    public float MeanOf(int channel) => Mean.Count == 1 ? Mean[0] : Mean[channel];

    /// <summary>The standard deviation of channel <paramref name="channel"/> (0 = R), broadcasting single values.</summary>
    public float StdOf(int channel) => Std.Count == 1 ? Std[0] : Std[channel];

    /// <summary>The normalization of raw pixels (0..255) of channel <paramref name="channel"/> as one affine map: <c>pixel · Scale + Offset</c>.</summary>
    internal (double Scale, double Offset) PixelAffineOf(int channel) =>
        (1.0 / (255.0 * StdOf(channel)), -MeanOf(channel) / (double)StdOf(channel));

    /// <summary>The whole grey level (0..255) nearest channel <paramref name="channel"/>'s mean: the pixel that normalizes closest to 0.</summary>
    internal float MeanGreyLevelOf(int channel) => (float)Math.Clamp(Math.Round(255.0 * MeanOf(channel)), 0, 255);

    /// <summary>Checks the statistics are usable.</summary>
    /// <exception cref="ArgumentException">Wrong counts, or a standard deviation that is not positive.</exception>
    public void Validate()
    {
        if (Mean.Count is not (1 or 3) || Std.Count is not (1 or 3))
            throw new ArgumentException($"Normalization needs 1 or 3 means and standard deviations; got {Mean.Count} and {Std.Count}.");
        if (Std.Any(s => !(s > 0) || float.IsInfinity(s)))
            throw new ArgumentException($"Normalization standard deviations must be positive; got [{string.Join(", ", Std)}].");
        if (Mean.Any(m => float.IsNaN(m) || float.IsInfinity(m)))
            throw new ArgumentException($"Normalization means must be finite; got [{string.Join(", ", Mean)}].");
    }

    /// <inheritdoc/>
    public override string ToString() => $"mean [{string.Join(", ", Mean)}], std [{string.Join(", ", Std)}]";
}
