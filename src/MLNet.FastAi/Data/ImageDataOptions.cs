using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data;

/// <summary>Options shared by every way of building <see cref="ImageDataLoaders"/> (fastai's DataLoaders keyword arguments).</summary>
public sealed record ImageDataOptions
{
    /// <summary>Training batch size (fastai <c>bs=64</c>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Validation/test batch size; null means <see cref="BatchSize"/>, as fastai's <c>val_bs</c>. Larger batches need
    /// blocks of memory training never freed (at 224 px, batch 256: an 822 MB first activation), so they raise the
    /// process's peak even without gradients.
    /// </summary>
    public int? ValidBatchSize { get; init; }

    /// <summary>
    /// Square side in pixels the model sees (fastai's <c>Resize(224)</c>, or <c>aug_transforms(size=224)</c> when
    /// presizing). Null works only when every image has the same size, which then sets it (a square of the longer
    /// side); photos of mixed sizes are refused with a message naming this option.
    /// </summary>
    public int? ImageSize { get; init; }

    /// <summary>
    /// fastai's presizing (<c>item_tfms=Resize(460)</c>, then <c>batch_tfms=aug_transforms(size=224)</c>): training
    /// images are decoded at this larger size, and each batch is cropped to <see cref="ImageSize"/> on the device in
    /// the same sampling step as the augmentation — a random square across the photo's longer side (with
    /// <see cref="ResizeMethod.Crop"/>) and a random resized crop of at least <see cref="AugmentationOptions.MinScale"/>
    /// of its area. Validation and test images are resized straight to <see cref="ImageSize"/> (a centre crop with
    /// <see cref="ResizeMethod.Crop"/>), exactly what the saved ML.NET model does. Null: no presizing.
    /// </summary>
    public int? ItemSize { get; init; }

    /// <summary>
    /// How images are brought to <see cref="ImageSize"/> (fastai's <c>ResizeMethod</c>). <see cref="ResizeMethod.Crop"/>
    /// by default, as fastai's <c>Resize(224)</c>: the centre square, smoothly resampled.
    /// </summary>
    public ResizeMethod Resize { get; init; } = DefaultResize;

    /// <summary>The one default of every door (fastai API, estimator, command line): fastai's <c>Resize</c> crops.</summary>
    internal const ResizeMethod DefaultResize = ResizeMethod.Crop;

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

    /// <summary>Where decoded images are kept: memory, a disk cache, or nowhere (streaming); chosen by size by default.</summary>
    public ImageCacheMode Cache { get; init; } = ImageCacheMode.Auto;

    /// <summary>
    /// The most bytes of decoded images <see cref="ImageCacheMode.Auto"/> keeps in memory; null means a quarter of the
    /// memory available when the loaders are built (the rest is left to training: a batch's activations at 224 px
    /// take gigabytes).
    /// </summary>
    public long? MemoryBudget { get; init; }

    /// <summary>
    /// Folder of the disk cache (<see cref="ImageCacheMode.Disk"/>); null means <c>image-cache</c> in fastai's home
    /// (<c>FASTAI_HOME</c>, else <c>~/.fastai</c>), next to downloaded datasets. Clear it with
    /// <see cref="ImageDataLoaders.ClearCache"/> or by deleting it.
    /// </summary>
    public string? CacheFolder { get; init; }

    /// <summary>
    /// The most bytes the disk cache folder keeps (20 GiB by default): after each build, the least recently used
    /// caches beyond it are removed, never one in use; unfinished caches of builds that ended are removed too.
    /// </summary>
    public long CacheSizeLimit { get; init; } = DefaultCacheSizeLimit;

    /// <summary>
    /// A check of the model to be trained, given the model's image size and the batch size, that throws when the
    /// training cannot fit. Set by the doors that know the model before the data (command line, estimator),
    /// so that a configuration that cannot train is refused before any image is decoded or cached.
    /// </summary>
    internal Action<int, int>? RefuseBeforeDecoding { get; init; }

    /// <summary>Whether the images can be decoded again every epoch (files can; an ML.NET column's rows cannot), which decides the advice of refusals.</summary>
    internal bool CanStream { get; init; } = true;

    /// <summary>The default <see cref="CacheSizeLimit"/>: 20 GiB.</summary>
    public const long DefaultCacheSizeLimit = 20L << 30;

    /// <summary>Batches decoded or read ahead of training when images are not in memory (a bound on the memory it takes).</summary>
    public int PrefetchBatches { get; init; } = 3;

    /// <summary>Threads decoding or reading images for batches; null means one per core.</summary>
    public int? DecodeWorkers { get; init; }

    /// <summary>
    /// Where the loaders report what they chose (cache mode and why, skipped images); null prints to the console.
    /// Pass <c>_ => { }</c> for silence.
    /// </summary>
    public Action<string>? Log { get; init; }

    /// <summary>Checks every value is in range.</summary>
    /// <exception cref="OptionException">Names the option at fault (<see cref="OptionException.Option"/>).</exception>
    public void Validate()
    {
        OptionChecks.AtLeast(OptionKey.BatchSize, BatchSize, 1);
        OptionChecks.AtLeast(OptionKey.ValidBatchSize, ValidBatchSize, 1);
        OptionChecks.AtLeast(OptionKey.MaxImagePixels, MaxImagePixels, 1);
        OptionChecks.Between(OptionKey.ImageSize, ImageSize, 1, ImagePipeline.MaxSide, " pixels");
        OptionChecks.Between(OptionKey.ItemSize, ItemSize, 1, ImagePipeline.MaxSide, " pixels");
        OptionChecks.Refuse(ItemSize is null || ImageSize is not null, OptionKey.ItemSize, ItemSize,
            $"{OptionKey.ItemSize} (presizing) needs {OptionKey.ImageSize}, the size batches are cropped to (fastai: item_tfms=Resize(460), batch_tfms=aug_transforms(size=224)).");
        OptionChecks.Refuse(!(ItemSize < ImageSize), OptionKey.ItemSize, ItemSize,
            $"{OptionKey.ItemSize} ({ItemSize}) must be at least {OptionKey.ImageSize} ({ImageSize}): presizing decodes larger, then crops to the model's size.");
        OptionChecks.Refuse(Enum.IsDefined(Resize), OptionKey.Resize, Resize, $"{OptionKey.Resize} must be Crop, Pad or Squish; got {Resize}.");
        OptionChecks.Refuse(Enum.IsDefined(OnBadImage), OptionKey.OnBadImage, OnBadImage, $"{OptionKey.OnBadImage} must be Fail or Skip; got {OnBadImage}.");
        OptionChecks.Refuse(Enum.IsDefined(Cache), OptionKey.Cache, Cache, $"{OptionKey.Cache} must be Auto, Memory, Disk or Stream; got {Cache}.");
        OptionChecks.AtLeast(OptionKey.MemoryBudget, MemoryBudget, 0);
        OptionChecks.AtLeast(OptionKey.PrefetchBatches, PrefetchBatches, 1);
        OptionChecks.AtLeast(OptionKey.DecodeWorkers, DecodeWorkers, 1);
        OptionChecks.AtLeast(OptionKey.CacheSizeLimit, CacheSizeLimit, 0);
        OptionChecks.NamesSomething(OptionKey.CacheFolder, CacheFolder, "a folder");
        Augmentation?.Validate();
        Normalization?.Validate();
    }
}
