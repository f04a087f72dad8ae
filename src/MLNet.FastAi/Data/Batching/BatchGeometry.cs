namespace MLNet.FastAi.Data.Batching;

/// <summary>
/// How presized training images become batch-sized ones on the device (fastai's presizing): a square across the
/// photo's longer side (when it was squished to a square for the cache), then a random resized crop keeping at least
/// <paramref name="MinScale"/> of the area, resampled to <paramref name="OutputSize"/> in the augmentation's one
/// sampling step.
/// </summary>
/// <param name="OutputSize">Side of the batch images (the model's input size).</param>
/// <param name="MinScale">Smallest share of the area the random resized crop keeps (1: none).</param>
/// <param name="CropItems">The cache holds squished photos: take a square of the original proportions from them.</param>
/// <param name="Centered">No randomness: centre squares and the whole area (predictions on training images).</param>
internal sealed record BatchGeometry(int OutputSize, float MinScale, bool CropItems, bool Centered)
{
    /// <summary>The same geometry without randomness.</summary>
    public BatchGeometry AsCentered() => this with { Centered = true };
}
