using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Recipes;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// Options of <see cref="FastAiCnnEstimator"/>, in the style of ML.NET trainers' options classes. Defaults follow fastai
/// (ResNet-18 from ImageNet weights, <c>fine_tune</c>, batch 64, Adam with decoupled weight decay 0.01). The training
/// settings are a view of the run the engine trains (the same settings as <see cref="ImageDataOptions"/>,
/// <see cref="VisionLearnerOptions"/> and <see cref="Learner.FineTune"/>'s arguments, with the same defaults); where
/// ML.NET names a setting differently, README's option table gives both names.
/// </summary>
public sealed class FastAiCnnOptions
{
    // ML.NET trainers write to MLContext.Log, not the console: no progress table unless asked.
    private TrainingRecipe _recipe = new() { Model = new() { ShowProgress = false } };
    private ImageDataOptions Data { get => _recipe.Data; set => _recipe = _recipe with { Data = value }; }
    private VisionLearnerOptions Model { get => _recipe.Model; set => _recipe = _recipe with { Model = value }; }
    private FitSchedule Plan { get => _recipe.Schedule; set => _recipe = _recipe with { Schedule = value }; }

    /// <summary>The image column's name when neither <see cref="FeatureColumnName"/> nor <see cref="ImageColumnName"/> is set.</summary>
    public const string DefaultImageColumnName = "ImagePath";

    /// <summary>Label column: a key type, e.g. from <c>MapValueToKey("Label")</c>. Its key values name the classes.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>
    /// The image column, by ML.NET's name for a trainer's input (ImageClassificationTrainer's <c>FeatureColumnName</c>):
    /// image file paths (text, relative to <see cref="ImageFolder"/> unless absolute), loaded images (<c>MLImage</c>,
    /// from <c>LoadImages</c>, resized or not), or encoded image bytes (from <c>LoadRawImageBytes</c>; such a model
    /// trains and scores in process but cannot be saved, see the README). Null means <see cref="ImageColumnName"/>.
    /// </summary>
    public string? FeatureColumnName { get; set; }

    /// <summary>
    /// The image column under this package's earlier name; the same as <see cref="FeatureColumnName"/> (set one, or
    /// both to the same column). When neither is set the column is <see cref="DefaultImageColumnName"/>.
    /// </summary>
    public string? ImageColumnName { get; set; }

    /// <summary>Folder that relative image paths start from (stored in the saved model, as LoadImages stores it); for path columns only.</summary>
    public string ImageFolder { get; set; } = "";

    /// <summary>Output column of class probabilities (slot names: the class names).</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output key column of the predicted class (key values: the class names).</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// Validation data (same columns, labels keyed by the same fitted MapValueToKey); null holds out
    /// <see cref="ValidationFraction"/> of the training data. <c>Fit(train, validation)</c> is the other way to give it.
    /// </summary>
    public Microsoft.ML.IDataView? ValidationSet { get; set; }

    /// <summary>
    /// Fraction of the training data held out for validation when no validation data is given (fastai 0.2). Zero
    /// trains without validation, as fastai's <c>valid_pct=0</c>: no validation loss or metrics (the log says so),
    /// and early stopping can then follow only <c>train_loss</c>.
    /// </summary>
    public double ValidationFraction { get; set; } = 0.2;

    /// <summary>
    /// Called after every epoch with its losses, metrics and learning rate (ImageClassificationTrainer's
    /// <c>MetricsCallback</c>), on the training thread. The same line goes to <c>MLContext.Log</c> either way.
    /// </summary>
    public Action<FastAiCnnEpochMetrics>? MetricsCallback { get; set; }

    /// <summary>
    /// Keep the decoded training and validation images and the optimizer's state with the fitted model (for
    /// <c>Learner.GetPreds</c>, <c>ShowResults</c> or more training on it without decoding again). Off by default: when
    /// Fit ends the model keeps the network, classes and transforms, and frees the rest
    /// (<see cref="Learner.ReleaseTrainingState"/>), so an app that fits and then serves does not hold its training set;
    /// the learner decodes the images again from their source if it is used again.
    /// </summary>
    public bool KeepTrainingState { get; set; }

    /// <summary>
    /// Score and save the network in int8 (ONNX QDQ run by ONNX Runtime's int8 kernels): about a quarter of the size
    /// and, on CPUs with int8 dot products, twice as fast, as a stock zip. Activation scales are calibrated on training
    /// images after training, and the int8 network is checked against float32 on the validation set: when it loses
    /// more than one point (and more than one image), the model scores and saves in float32 instead and the log says
    /// so with the figures (<see cref="FastAiCnnTransformer.Int8Report"/> has them either way).
    /// </summary>
    public bool Int8 { get; set; }

    /// <summary>Stop when a value stops improving (ImageClassificationTrainer's <c>EarlyStoppingCriteria</c>); null trains every epoch.</summary>
    public FastAiEarlyStopping? EarlyStopping { get; set; }

    // Data: ImageDataOptions.
    /// <summary><see cref="ImageDataOptions.ImageSize"/>: the square side the model sees (fastai's usual is 224); null works only when every image has the same size.</summary>
    public int? ImageSize { get => Data.ImageSize; set => Data = Data with { ImageSize = value }; }
    /// <summary><see cref="ImageDataOptions.ItemSize"/>: fastai's presizing; the saved model resizes straight to <see cref="ImageSize"/>.</summary>
    public int? ItemSize { get => Data.ItemSize; set => Data = Data with { ItemSize = value }; }
    /// <summary><see cref="ImageDataOptions.Resize"/>: how images reach <see cref="ImageSize"/> (the centre square by default, as fastai's <c>Resize</c>).</summary>
    public ResizeMethod Resize { get => Data.Resize; set => Data = Data with { Resize = value }; }
    /// <summary><see cref="ImageDataOptions.BatchSize"/>: training batch size (fastai 64).</summary>
    public int BatchSize { get => Data.BatchSize; set => Data = Data with { BatchSize = value }; }
    /// <summary><see cref="ImageDataOptions.Cache"/>: where decoded images are kept while training.</summary>
    public ImageCacheMode Cache { get => Data.Cache; set => Data = Data with { Cache = value }; }
    /// <summary><see cref="ImageDataOptions.CacheFolder"/>: the disk cache's folder.</summary>
    public string? CacheFolder { get => Data.CacheFolder; set => Data = Data with { CacheFolder = value }; }
    /// <summary><see cref="ImageDataOptions.CacheSizeLimit"/>: the most bytes the disk cache folder keeps.</summary>
    public long CacheSizeLimit { get => Data.CacheSizeLimit; set => Data = Data with { CacheSizeLimit = value }; }
    /// <summary><see cref="ImageDataOptions.MemoryBudget"/>: the bytes the automatic cache choice may keep in memory.</summary>
    public long? MemoryBudget { get => Data.MemoryBudget; set => Data = Data with { MemoryBudget = value }; }
    /// <summary><see cref="ImageDataOptions.DecodeWorkers"/>: threads that decode images.</summary>
    public int? DecodeWorkers { get => Data.DecodeWorkers; set => Data = Data with { DecodeWorkers = value }; }
    /// <summary><see cref="ImageDataOptions.MaxImagePixels"/>: images whose header claims more pixels are refused before decoding.</summary>
    public long MaxImagePixels { get => Data.MaxImagePixels; set => Data = Data with { MaxImagePixels = value }; }
    /// <summary><see cref="ImageDataOptions.OnBadImage"/>: what to do with unreadable images.</summary>
    public BadImageHandling OnBadImage { get => Data.OnBadImage; set => Data = Data with { OnBadImage = value }; }
    /// <summary><see cref="ImageDataOptions.Normalization"/>: null uses ImageNet statistics for pretrained bodies.</summary>
    public NormalizationStats? Normalization { get => Data.Normalization; set => Data = Data with { Normalization = value }; }
    /// <summary><see cref="ImageDataOptions.Augmentation"/>: training augmentation; null for none.</summary>
    public AugmentationOptions? Augmentation { get => Data.Augmentation; set => Data = Data with { Augmentation = value }; }

    /// <summary>
    /// Seed for the split, initialisation, shuffling and augmentation. Null takes one from the MLContext, as ML.NET's
    /// trainers do: <c>new MLContext(seed: 1)</c> gives the same model on every run of the same program, and an
    /// unseeded context a different one each run (the seed used is logged, so a run can be repeated by setting it here).
    /// </summary>
    public int? Seed { get => Data.Seed; set => Data = Data with { Seed = value }; }

    // Model and learner: VisionLearnerOptions.
    /// <summary><see cref="VisionLearnerOptions.Architecture"/>: the body architecture.</summary>
    public ResNetArchitecture Architecture { get => Model.Architecture; set => Model = Model with { Architecture = value }; }
    /// <summary><see cref="VisionLearnerOptions.Pretrained"/>: null means ML.NET's ImageNet weights for ResNet-18, none otherwise.</summary>
    public PretrainedSource? Pretrained { get => Model.Pretrained; set => Model = Model with { Pretrained = value }; }
    /// <summary><see cref="VisionLearnerOptions.WeightsFile"/>: weights for <see cref="PretrainedSource.File"/>.</summary>
    public string? WeightsFile { get => Model.WeightsFile; set => Model = Model with { WeightsFile = value }; }
    /// <summary><see cref="VisionLearnerOptions.Dropout"/>: head dropout (fastai 0.5).</summary>
    public double Dropout { get => Model.Dropout; set => Model = Model with { Dropout = value }; }
    /// <summary><see cref="VisionLearnerOptions.WeightDecay"/>: decoupled weight decay (fastai 0.01).</summary>
    public double WeightDecay { get => Model.WeightDecay; set => Model = Model with { WeightDecay = value }; }
    /// <summary><see cref="VisionLearnerOptions.WeightDecayOnNormAndBias"/>: fastai's <c>wd_bn_bias</c> (off).</summary>
    public bool WeightDecayOnNormAndBias { get => Model.WeightDecayOnNormAndBias; set => Model = Model with { WeightDecayOnNormAndBias = value }; }
    /// <summary><see cref="VisionLearnerOptions.TrainBatchNorm"/>: fastai's <c>train_bn</c>.</summary>
    public bool TrainBatchNorm { get => Model.TrainBatchNorm; set => Model = Model with { TrainBatchNorm = value }; }
    /// <summary><see cref="VisionLearnerOptions.Momentums"/>: fastai's <c>moms</c> (0.95, 0.85, 0.95).</summary>
    public (double Start, double Middle, double End) Momentums { get => Model.Momentums; set => Model = Model with { Momentums = value }; }
    /// <summary><see cref="VisionLearnerOptions.LabelSmoothing"/>: label smoothing of the loss (0: plain cross-entropy).</summary>
    public double LabelSmoothing { get => Model.LabelSmoothing; set => Model = Model with { LabelSmoothing = value }; }
    /// <summary><see cref="VisionLearnerOptions.Metrics"/>: validation metrics reported each epoch.</summary>
    public IReadOnlyList<Func<Metric>> Metrics { get => Model.Metrics; set => Model = Model with { Metrics = value }; }
    /// <summary><see cref="VisionLearnerOptions.Callbacks"/>: extra fastai training callbacks (TensorBoard, checkpoints, ...).</summary>
    public IReadOnlyList<Callback> Callbacks { get => Model.Callbacks; set => Model = Model with { Callbacks = value }; }
    /// <summary><see cref="VisionLearnerOptions.Device"/>: CUDA when available by default; <c>MLContext.GpuDeviceId</c> and <c>FallbackToCpu</c> are honoured.</summary>
    public ComputeDevice Device { get => Model.Device; set => Model = Model with { Device = value }; }
    /// <summary><see cref="VisionLearnerOptions.MixedPrecision"/>: bfloat16 convolutions with float32 master weights. Off by default.</summary>
    public bool MixedPrecision { get => Model.MixedPrecision; set => Model = Model with { MixedPrecision = value }; }
    /// <summary><see cref="VisionLearnerOptions.ChannelsLast"/>: channels-last (NHWC) activations. Off by default.</summary>
    public bool ChannelsLast { get => Model.ChannelsLast; set => Model = Model with { ChannelsLast = value }; }
    /// <summary>Print fastai's progress table to the console (ML.NET's log gets the epochs either way). Off by default.</summary>
    public bool ShowProgress { get => Model.ShowProgress; set => Model = Model with { ShowProgress = value }; }

    // The schedule: Learner.FineTune, FitOneCycle and Fit.
    /// <summary>Training schedule (fine-tuning by default).</summary>
    public TrainingSchedule Schedule { get => Plan.Kind; set => Plan = Plan with { Kind = value }; }
    /// <summary>Epochs (the unfrozen epochs for fine-tuning).</summary>
    public int Epochs { get => Plan.Epochs; set => Plan = Plan with { Epochs = value }; }
    /// <summary>Frozen epochs before unfreezing (fine-tuning only; fastai 1).</summary>
    public int FreezeEpochs { get => Plan.FreezeEpochs ?? Learner.DefaultFreezeEpochs; set => Plan = Plan with { FreezeEpochs = value }; }
    /// <summary>Base learning rate (fine-tuning only; fastai 2e-3).</summary>
    public double BaseLearningRate { get => Plan.BaseLearningRate ?? Learner.DefaultBaseLearningRate; set => Plan = Plan with { BaseLearningRate = value }; }
    /// <summary>Learning rate of <see cref="TrainingSchedule.OneCycle"/> (its peak) and <see cref="TrainingSchedule.Constant"/> (fastai 1e-3).</summary>
    public double LearningRate { get => Plan.LearningRate ?? Model.LearningRate; set => Plan = Plan with { LearningRate = value }; }
    /// <summary>One-cycle and constant schedules: train every layer of a pretrained model, not only the head.</summary>
    public bool Unfreeze { get => Plan.Unfreeze ?? false; set => Plan = Plan with { Unfreeze = value }; }

    /// <summary>fastai's <see cref="Training.Callbacks.MixUp"/> at this alpha (fastai's default 0.4): training images and targets blended in pairs; null for none.</summary>
    public double? MixUp { get => _recipe.MixUp; set => _recipe = _recipe with { MixUp = value }; }
    /// <summary>fastai's <see cref="Training.Callbacks.CutMix"/> at this alpha (fastai's default 1.0): a rectangle of another training image pasted in; null for none.</summary>
    public double? CutMix { get => _recipe.CutMix; set => _recipe = _recipe with { CutMix = value }; }

    /// <summary>Checks every option, naming the one at fault.</summary>
    /// <exception cref="OptionException">An option is out of range or does not go with another; <see cref="OptionException.Option"/> says which.</exception>
    public void Validate()
    {
        using var door = OptionText.Speak(OptionDoor.Estimator);
        OptionChecks.NamesSomething(OptionKey.LabelColumnName, LabelColumnName ?? "", "a column");
        OptionChecks.NamesSomething(OptionKey.FeatureColumnName, FeatureColumnName, "a column");
        OptionChecks.NamesSomething(OptionKey.ImageColumnName, ImageColumnName, "a column");
        OptionChecks.Refuse(FeatureColumnName is null || ImageColumnName is null || FeatureColumnName == ImageColumnName, OptionKey.FeatureColumnName, FeatureColumnName,
            $"{OptionKey.FeatureColumnName} ('{FeatureColumnName}') and {OptionKey.ImageColumnName} ('{ImageColumnName}') name two different image columns; set one of them.");
        OptionChecks.NamesSomething(OptionKey.ScoreColumnName, ScoreColumnName ?? "", "a column");
        OptionChecks.NamesSomething(OptionKey.PredictedLabelColumnName, PredictedLabelColumnName ?? "", "a column");
        OptionChecks.Refuse(ScoreColumnName != PredictedLabelColumnName, OptionKey.PredictedLabelColumnName, PredictedLabelColumnName,
            $"{OptionKey.PredictedLabelColumnName} must differ from {OptionKey.ScoreColumnName}.");
        OptionChecks.Refuse(ValidationFraction is >= 0 and < 1, OptionKey.ValidationFraction, ValidationFraction,
            $"{OptionKey.ValidationFraction} must be at least 0 (no validation) and below 1; got {ValidationFraction}.");
        OptionChecks.Refuse(Metrics is not null, OptionKey.Metrics, null, $"{OptionKey.Metrics} must be a list (empty for none).");
        OptionChecks.Refuse(Callbacks is not null, OptionKey.Callbacks, null, $"{OptionKey.Callbacks} must be a list (empty for none).");
        _recipe.Validate();
        EarlyStopping?.Validate(Metrics!);
    }

    /// <summary>The image column: <see cref="FeatureColumnName"/>, else <see cref="ImageColumnName"/>, else <see cref="DefaultImageColumnName"/>.</summary>
    internal string ImageColumn => FeatureColumnName ?? ImageColumnName ?? DefaultImageColumnName;

    /// <summary>The training run these options describe.</summary>
    internal TrainingRecipe Recipe => _recipe;
}
