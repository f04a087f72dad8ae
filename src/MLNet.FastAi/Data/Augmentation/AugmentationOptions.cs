namespace MLNet.FastAi.Data.Augmentation;

/// <summary>
/// fastai's <c>aug_transforms</c>: random flips, rotation, zoom, perspective warp (composed into one sampling grid per
/// batch) and brightness/contrast, applied to training batches on the device. Defaults are fastai's.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Flip horizontally with probability 0.5 (fastai <c>do_flip=True</c>). Turn off for digits and text.</summary>
    public bool DoFlip { get; init; } = true;

    /// <summary>Also flip vertically / rotate by multiples of 90° (fastai's dihedral, <c>flip_vert=False</c>).</summary>
    public bool FlipVertical { get; init; }

    /// <summary>Largest rotation in degrees (fastai <c>max_rotate=10</c>).</summary>
    public float MaxRotate { get; init; } = 10f;

    /// <summary>Smallest zoom factor (fastai <c>min_zoom=1</c>).</summary>
    public float MinZoom { get; init; } = 1f;

    /// <summary>Largest zoom factor (fastai <c>max_zoom=1.1</c>).</summary>
    public float MaxZoom { get; init; } = 1.1f;

    /// <summary>Largest brightness/contrast change (fastai <c>max_lighting=0.2</c>).</summary>
    public float MaxLighting { get; init; } = 0.2f;

    /// <summary>Largest perspective warp (fastai <c>max_warp=0.2</c>).</summary>
    public float MaxWarp { get; init; } = 0.2f;

    /// <summary>Probability of each geometric transform per image (fastai <c>p_affine=0.75</c>).</summary>
    public float ProbabilityAffine { get; init; } = 0.75f;

    /// <summary>Probability of each lighting transform per image (fastai <c>p_lighting=0.75</c>).</summary>
    public float ProbabilityLighting { get; init; } = 0.75f;

    /// <summary>
    /// Smallest share of the image's area a random resized crop keeps (fastai <c>aug_transforms(min_scale=1.)</c>; its
    /// presizing recipe uses 0.75). Below 1, every training image is cropped to a random square of that much of its
    /// area or more, at a random place, then resized to the batch size — composed into the same sampling grid as the
    /// other transforms, one crop per image (fastai draws one per batch).
    /// </summary>
    public float MinScale { get; init; } = 1f;

    /// <summary>fastai's defaults.</summary>
    public static AugmentationOptions Default { get; } = new();

    /// <summary>
    /// fastai's <c>aug_transforms(mult=...)</c>: rotation, lighting and warp magnitudes multiplied by <paramref name="mult"/>.
    /// </summary>
    public static AugmentationOptions Scaled(float mult, bool doFlip = true) => new()
    {
        DoFlip = doFlip,
        MaxRotate = 10f * mult,
        MaxLighting = 0.2f * mult,
        MaxWarp = 0.2f * mult,
    };

    /// <summary>Checks every value is in range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Names the option at fault.</exception>
    public void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
        }
        Check(MaxRotate is >= 0 and <= 180, nameof(MaxRotate), MaxRotate, "must be between 0 and 180 degrees");
        Check(MinZoom > 0 && MinZoom <= MaxZoom, nameof(MinZoom), MinZoom, "must be positive and at most MaxZoom");
        Check(MaxLighting is >= 0 and < 1, nameof(MaxLighting), MaxLighting, "must be in [0, 1)");
        Check(MaxWarp is >= 0 and < 1, nameof(MaxWarp), MaxWarp, "must be in [0, 1)");
        Check(ProbabilityAffine is >= 0 and <= 1, nameof(ProbabilityAffine), ProbabilityAffine, "must be a probability");
        Check(ProbabilityLighting is >= 0 and <= 1, nameof(ProbabilityLighting), ProbabilityLighting, "must be a probability");
        Check(MinScale is > 0 and <= 1, nameof(MinScale), MinScale, "must be in (0, 1]");
    }
}
