using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data;

/// <summary>Options shared by every way of building <see cref="ImageDataLoaders"/> (fastai's DataLoaders keyword arguments).</summary>
public sealed record ImageDataOptions
{
    /// <summary>Training batch size (fastai <c>bs=64</c>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Validation/test batch size; null means twice <see cref="BatchSize"/> (no gradients are kept there).</summary>
    public int? ValidBatchSize { get; init; }

    /// <summary>Square side in pixels every image is resized to; null takes the size of the first training image.</summary>
    public int? ImageSize { get; init; }

    /// <summary>How images are brought to <see cref="ImageSize"/> (fastai's <c>ResizeMethod</c>; Squish by default).</summary>
    public ResizeMethod Resize { get; init; } = ResizeMethod.Squish;

    /// <summary>Seed for the validation split, shuffling and augmentation; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>What to do with unreadable images (stop by default).</summary>
    public BadImageHandling OnBadImage { get; init; } = BadImageHandling.Fail;

    /// <summary>Training augmentation, or null for none (fastai's <c>batch_tfms=aug_transforms()</c>).</summary>
    public AugmentationOptions? Augmentation { get; init; }

    /// <summary>Default of <see cref="MaxImagePixels"/>: 100 megapixels.</summary>
    public const long DefaultMaxImagePixels = 100_000_000;

    /// <summary>Images whose header claims more pixels than this are refused before decoding (decompression bombs).</summary>
    public long MaxImagePixels { get; init; } = DefaultMaxImagePixels;

    /// <summary>Input normalization, or null to let the learner choose (ImageNet statistics for pretrained models).</summary>
    public NormalizationStats? Normalization { get; init; }

    /// <summary>Checks every value is in range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Names the option at fault.</exception>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (ValidBatchSize is < 1) throw new ArgumentOutOfRangeException(nameof(ValidBatchSize), ValidBatchSize, "ValidBatchSize must be at least 1.");
        if (MaxImagePixels < 1) throw new ArgumentOutOfRangeException(nameof(MaxImagePixels), MaxImagePixels, "MaxImagePixels must be positive.");
        if (ImageSize is < 1 or > ImagePipeline.MaxSide) throw new ArgumentOutOfRangeException(nameof(ImageSize), ImageSize, $"ImageSize must be between 1 and {ImagePipeline.MaxSide} pixels.");
        Augmentation?.Validate();
        Normalization?.Validate();
    }
}
