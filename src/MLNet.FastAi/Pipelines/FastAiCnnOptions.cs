using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Pipelines;

/// <summary>How <see cref="FastAiCnnEstimator"/> trains.</summary>
public enum TrainingSchedule
{
    /// <summary>fastai's <c>fine_tune</c>: frozen body for <see cref="FastAiCnnOptions.FreezeEpochs"/>, then everything (the default).</summary>
    FineTune,
    /// <summary>fastai's <c>fit_one_cycle</c> at <see cref="FastAiCnnOptions.LearningRate"/> with the body frozen when pretrained.</summary>
    OneCycle,
    /// <summary>fastai's <c>fit</c>: constant learning rate, body frozen when pretrained (the blog's <c>fit(5, 1e-3)</c>).</summary>
    Constant,
}

/// <summary>
/// Options of <see cref="FastAiCnnEstimator"/>, in the style of ML.NET trainers' options classes. Defaults follow fastai
/// (ResNet-18 from ImageNet weights, <c>fine_tune</c>, batch 64, Adam with decoupled weight decay 0.01).
/// </summary>
public sealed class FastAiCnnOptions
{
    /// <summary>The image column's name when neither <see cref="FeatureColumnName"/> nor <see cref="ImageColumnName"/> is set.</summary>
    public const string DefaultImageColumnName = "ImagePath";

    /// <summary>Label column: a key type, e.g. from <c>MapValueToKey("Label")</c>. Its key values name the classes.</summary>
    public string LabelColumnName = "Label";

    /// <summary>
    /// The image column, by ML.NET's name for a trainer's input (ImageClassificationTrainer's <c>FeatureColumnName</c>):
    /// image file paths (text, relative to <see cref="ImageFolder"/> unless absolute), loaded images (<c>MLImage</c>,
    /// from <c>LoadImages</c>, resized or not), or encoded image bytes (from <c>LoadRawImageBytes</c>; such a model
    /// trains and scores in process but cannot be saved, see the README). Null means <see cref="ImageColumnName"/>.
    /// </summary>
    public string? FeatureColumnName;

    /// <summary>
    /// The image column under this package's earlier name; the same as <see cref="FeatureColumnName"/> (set one, or
    /// both to the same column). When neither is set the column is <see cref="DefaultImageColumnName"/>.
    /// </summary>
    public string? ImageColumnName;

    /// <summary>Folder that relative image paths start from (stored in the saved model, as LoadImages stores it); for path columns only.</summary>
    public string ImageFolder = "";

    /// <summary>Output column of class probabilities (slot names: the class names).</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Output key column of the predicted class (key values: the class names).</summary>
    public string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>
    /// Square side the model sees (fastai's usual is 224); null works only when every image has the same size, which
    /// then sets it. Photos of mixed sizes need it.
    /// </summary>
    public int? ImageSize;

    /// <summary>
    /// fastai's presizing: training images decoded at this larger size and cropped to <see cref="ImageSize"/> per batch
    /// (see <see cref="ImageDataOptions.ItemSize"/>); the saved model resizes straight to <see cref="ImageSize"/>.
    /// </summary>
    public int? ItemSize;

    /// <summary>Where decoded images are kept while training: chosen by size by default (see <see cref="ImageCacheMode"/>).</summary>
    public ImageCacheMode Cache = ImageCacheMode.Auto;

    /// <summary>Folder of the disk cache; null means <c>image-cache</c> in fastai's home (<c>FASTAI_HOME</c>, else <c>~/.fastai</c>).</summary>
    public string? CacheFolder;

    /// <summary>The most bytes the disk cache folder keeps; least recently used caches beyond it are removed (see <see cref="ImageDataOptions.CacheSizeLimit"/>).</summary>
    public long CacheSizeLimit = ImageDataOptions.DefaultCacheSizeLimit;

    /// <summary>How images are brought to <see cref="ImageSize"/>: the centre square by default, as fastai's <c>Resize</c>.</summary>
    public ResizeMethod Resize = ImageDataOptions.DefaultResize;

    /// <summary>The body architecture.</summary>
    public ResNetArchitecture Architecture = ResNetArchitecture.ResNet18;

    /// <summary>Where body weights come from; null means ML.NET's ImageNet weights for ResNet-18, none otherwise.</summary>
    public PretrainedSource? Pretrained;

    /// <summary>Weights file for <see cref="PretrainedSource.File"/> (torchvision .pth/.safetensors or TorchSharp).</summary>
    public string? WeightsFile;

    /// <summary>Training schedule.</summary>
    public TrainingSchedule Schedule = TrainingSchedule.FineTune;

    /// <summary>Epochs (the unfrozen epochs for fine-tuning).</summary>
    public int Epochs = 5;

    /// <summary>Frozen epochs before unfreezing (fine-tuning only; fastai 1).</summary>
    public int FreezeEpochs = 1;

    /// <summary>Base learning rate for fine-tuning (fastai 2e-3).</summary>
    public double BaseLearningRate = 2e-3;

    /// <summary>Learning rate for <see cref="TrainingSchedule.OneCycle"/> and <see cref="TrainingSchedule.Constant"/>.</summary>
    public double LearningRate = 1e-3;

    /// <summary>Decoupled weight decay (fastai 0.01).</summary>
    public double WeightDecay = 0.01;

    /// <summary>Training batch size (fastai 64).</summary>
    public int BatchSize = 64;

    /// <summary>
    /// Validation data (same columns, labels keyed by the same fitted MapValueToKey); null holds out
    /// <see cref="ValidationFraction"/> of the training data. <c>Fit(train, validation)</c> is the other way to give it.
    /// </summary>
    public Microsoft.ML.IDataView? ValidationSet;

    /// <summary>
    /// Fraction of the training data held out for validation when no validation data is given (fastai 0.2). Zero
    /// trains without validation, as fastai's <c>valid_pct=0</c>: no validation loss or metrics (the log says so),
    /// and early stopping can then follow only <c>train_loss</c>.
    /// </summary>
    public double ValidationFraction = 0.2;

    /// <summary>Input normalization; null uses ImageNet statistics for pretrained bodies.</summary>
    public NormalizationStats? Normalization;

    /// <summary>Training augmentation; null for none.</summary>
    public AugmentationOptions? Augmentation;

    /// <summary>Head dropout (fastai 0.5).</summary>
    public double Dropout = 0.5;

    /// <summary>Label smoothing of the loss (0: plain cross-entropy).</summary>
    public double LabelSmoothing;

    /// <summary>Validation metrics reported each epoch.</summary>
    public IReadOnlyList<Func<Metric>> Metrics = new Func<Metric>[] { ClassificationMetrics.Accuracy };

    /// <summary>
    /// Called after every epoch with its losses, metrics and learning rate (ImageClassificationTrainer's
    /// <c>MetricsCallback</c>), on the training thread. The same line goes to <c>MLContext.Log</c> either way.
    /// </summary>
    public Action<FastAiCnnEpochMetrics>? MetricsCallback;

    /// <summary>Stop when a value stops improving (ImageClassificationTrainer's <c>EarlyStoppingCriteria</c>); null trains every epoch.</summary>
    public FastAiEarlyStopping? EarlyStopping;

    /// <summary>Extra fastai training callbacks (TensorBoard, checkpoints, ...).</summary>
    public IReadOnlyList<Callback> Callbacks = Array.Empty<Callback>();

    /// <summary>Device; CUDA when available by default. <c>MLContext.GpuDeviceId</c> and <c>FallbackToCpu</c> are honoured.</summary>
    public ComputeDevice Device = ComputeDevice.Auto;

    /// <summary>Mixed precision: bfloat16 convolutions with float32 master weights (see <see cref="VisionLearnerOptions.MixedPrecision"/>). Off by default.</summary>
    public bool MixedPrecision;

    /// <summary>Channels-last (NHWC) activations (see <see cref="VisionLearnerOptions.ChannelsLast"/>). Off by default.</summary>
    public bool ChannelsLast;

    /// <summary>
    /// Seed for the split, initialisation, shuffling and augmentation. Null takes one from the MLContext, as ML.NET's
    /// trainers do: <c>new MLContext(seed: 1)</c> gives the same model on every run of the same program, and an
    /// unseeded context a different one each run (the seed used is logged, so a run can be repeated by setting it here).
    /// </summary>
    public int? Seed;

    /// <summary>What to do with unreadable images.</summary>
    public BadImageHandling OnBadImage = BadImageHandling.Fail;

    /// <summary>Print fastai's progress table to the console (ML.NET's log gets the epochs either way).</summary>
    public bool ShowProgress;

    /// <summary>Checks every option, naming the one at fault.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"FastAiCnnOptions.{name} {rule}.");
        }
        Check(!string.IsNullOrWhiteSpace(LabelColumnName), nameof(LabelColumnName), LabelColumnName, "must name a column");
        Check(FeatureColumnName is null || !string.IsNullOrWhiteSpace(FeatureColumnName), nameof(FeatureColumnName), FeatureColumnName, "must name a column (or be null)");
        Check(ImageColumnName is null || !string.IsNullOrWhiteSpace(ImageColumnName), nameof(ImageColumnName), ImageColumnName, "must name a column (or be null)");
        Check(FeatureColumnName is null || ImageColumnName is null || FeatureColumnName == ImageColumnName, nameof(FeatureColumnName), FeatureColumnName,
            $"and ImageColumnName ('{ImageColumnName}') name two different image columns; set one of them");
        Check(!string.IsNullOrWhiteSpace(ScoreColumnName), nameof(ScoreColumnName), ScoreColumnName, "must name a column");
        Check(!string.IsNullOrWhiteSpace(PredictedLabelColumnName), nameof(PredictedLabelColumnName), PredictedLabelColumnName, "must name a column");
        Check(ScoreColumnName != PredictedLabelColumnName, nameof(PredictedLabelColumnName), PredictedLabelColumnName, "must differ from ScoreColumnName");
        Check(ImageSize is null or (>= 1 and <= ImagePipeline.MaxSide), nameof(ImageSize), ImageSize, $"must be between 1 and {ImagePipeline.MaxSide}");
        Check(ItemSize is null or (>= 1 and <= ImagePipeline.MaxSide), nameof(ItemSize), ItemSize, $"must be between 1 and {ImagePipeline.MaxSide}");
        Check(ItemSize is null || ImageSize is not null, nameof(ItemSize), ItemSize, "needs ImageSize, the size batches are cropped to");
        Check(ItemSize is null || ItemSize >= ImageSize, nameof(ItemSize), ItemSize, "must be at least ImageSize");
        Check(Enum.IsDefined(Cache), nameof(Cache), Cache, "must be Auto, Memory, Disk or Stream");
        Check(CacheFolder is null || !string.IsNullOrWhiteSpace(CacheFolder), nameof(CacheFolder), CacheFolder, "must name a folder (or be null for the default)");
        Check(CacheSizeLimit >= 0, nameof(CacheSizeLimit), CacheSizeLimit, "must not be negative");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(FreezeEpochs >= 0, nameof(FreezeEpochs), FreezeEpochs, "must not be negative");
        Check(BaseLearningRate > 0 && double.IsFinite(BaseLearningRate), nameof(BaseLearningRate), BaseLearningRate, "must be positive");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be a finite number, not negative");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "must be at least 0 (no validation) and below 1");
        Check(Dropout is >= 0 and < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
        Check(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "must be in [0, 1)");
        Check(Pretrained != PretrainedSource.File || !string.IsNullOrWhiteSpace(WeightsFile), nameof(WeightsFile), WeightsFile, "must name a file when Pretrained = File");
        Check(Metrics is not null, nameof(Metrics), Metrics, "must be a list (empty for none)");
        Check(Callbacks is not null, nameof(Callbacks), Callbacks, "must be a list (empty for none)");
        EarlyStopping?.Validate(Metrics!);
        Normalization?.Validate();
        Augmentation?.Validate();
    }

    /// <summary>The image column: <see cref="FeatureColumnName"/>, else <see cref="ImageColumnName"/>, else <see cref="DefaultImageColumnName"/>.</summary>
    internal string ImageColumn => FeatureColumnName ?? ImageColumnName ?? DefaultImageColumnName;
}
