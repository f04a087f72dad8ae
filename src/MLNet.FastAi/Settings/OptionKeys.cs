namespace MLNet.FastAi.Settings;

// The one table of a training run's settings: each row says how the fastai API, the ML.NET trainer and the command
// line name the setting. Doors expose a setting by one line of their own; messages name it through its key.
public sealed partial class OptionKey
{
    private const string Data = "ImageDataOptions.", Model = "VisionLearnerOptions.", Estimator = "FastAiCnnOptions.";

    private static OptionKey Both(string name, string owner, string? flag, string words, Func<object, string?>? flagSetting = null) =>
        new(name, owner + name, Estimator + name, flag, words, flagSetting);

    // Data: ImageDataOptions.
    /// <summary>Training batch size.</summary>
    public static readonly OptionKey BatchSize = Both(nameof(BatchSize), Data, "--batch-size", "the batch size");
    /// <summary>Validation batch size.</summary>
    public static readonly OptionKey ValidBatchSize = new(nameof(ValidBatchSize), Data + nameof(ValidBatchSize), null, null, "the validation batch size");
    /// <summary>The square side the model sees.</summary>
    public static readonly OptionKey ImageSize = Both(nameof(ImageSize), Data, "--image-size", "the image size");
    /// <summary>Presizing: the size training images are decoded at.</summary>
    public static readonly OptionKey ItemSize = Both(nameof(ItemSize), Data, "--item-size", "the presizing size");
    /// <summary>How images reach the square size.</summary>
    public static readonly OptionKey Resize = Both(nameof(Resize), Data, "--resize", "the resize method");
    /// <summary>What to do with unreadable images.</summary>
    public static readonly OptionKey OnBadImage = Both(nameof(OnBadImage), Data, "--skip-bad-images", "the bad-image handling",
        value => value.ToString() == "Skip" ? "pass --skip-bad-images" : "leave out --skip-bad-images");
    /// <summary>The decode gate's pixel limit.</summary>
    public static readonly OptionKey MaxImagePixels = Both(nameof(MaxImagePixels), Data, "--max-image-pixels", "the image pixel limit");
    /// <summary>Where decoded images are kept.</summary>
    public static readonly OptionKey Cache = Both(nameof(Cache), Data, "--cache", "the cache mode");
    /// <summary>The bytes the automatic cache choice may keep in memory.</summary>
    public static readonly OptionKey MemoryBudget = Both(nameof(MemoryBudget), Data, null, "the memory budget");
    /// <summary>The disk cache's folder.</summary>
    public static readonly OptionKey CacheFolder = Both(nameof(CacheFolder), Data, "--cache-dir", "the cache folder");
    /// <summary>The most bytes the disk cache folder keeps.</summary>
    public static readonly OptionKey CacheSizeLimit = Both(nameof(CacheSizeLimit), Data, "--cache-limit", "the cache size limit");
    /// <summary>Batches decoded ahead of training.</summary>
    public static readonly OptionKey PrefetchBatches = new(nameof(PrefetchBatches), Data + nameof(PrefetchBatches), null, null, "the prefetch depth");
    /// <summary>Threads that decode images.</summary>
    public static readonly OptionKey DecodeWorkers = Both(nameof(DecodeWorkers), Data, null, "the decode workers");
    /// <summary>Training augmentation.</summary>
    public static readonly OptionKey Augmentation = Both(nameof(Augmentation), Data, "--augment", "the augmentation");
    /// <summary>Input normalization.</summary>
    public static readonly OptionKey Normalization = Both(nameof(Normalization), Data, "--normalize", "the normalization");
    /// <summary>The run's seed.</summary>
    public static readonly OptionKey Seed = Both(nameof(Seed), Data, "--seed", "the seed");

    // Model and learner: VisionLearnerOptions.
    /// <summary>The body architecture.</summary>
    public static readonly OptionKey Architecture = Both(nameof(Architecture), Model, "--arch", "the architecture");
    /// <summary>Where body weights come from.</summary>
    public static readonly OptionKey Pretrained = Both(nameof(Pretrained), Model, "--pretrained", "the pretrained weights");
    /// <summary>A weights file.</summary>
    public static readonly OptionKey WeightsFile = Both(nameof(WeightsFile), Model, "--weights", "the weights file");
    /// <summary>Head dropout.</summary>
    public static readonly OptionKey Dropout = Both(nameof(Dropout), Model, null, "the head dropout");
    /// <summary>The learning rate of fit and fit_one_cycle (fastai's <c>lr</c>).</summary>
    public static readonly OptionKey LearningRate = Both(nameof(LearningRate), Model, "--lr", "the learning rate");
    /// <summary>Decoupled weight decay.</summary>
    public static readonly OptionKey WeightDecay = Both(nameof(WeightDecay), Model, "--wd", "the weight decay");
    /// <summary>fastai's <c>wd_bn_bias</c>.</summary>
    public static readonly OptionKey WeightDecayOnNormAndBias = Both(nameof(WeightDecayOnNormAndBias), Model, "--wd-bn-bias", "weight decay on BatchNorm and bias");
    /// <summary>fastai's <c>train_bn</c>.</summary>
    public static readonly OptionKey TrainBatchNorm = Both(nameof(TrainBatchNorm), Model, null, "training frozen BatchNorm layers");
    /// <summary>fastai's <c>moms</c>.</summary>
    public static readonly OptionKey Momentums = Both(nameof(Momentums), Model, null, "the momentums");
    /// <summary>Label smoothing of the loss.</summary>
    public static readonly OptionKey LabelSmoothing = Both(nameof(LabelSmoothing), Model, "--label-smoothing", "the label smoothing");
    /// <summary>Where training runs.</summary>
    public static readonly OptionKey Device = Both(nameof(Device), Model, "--device", "the device");
    /// <summary>bfloat16 convolutions.</summary>
    public static readonly OptionKey MixedPrecision = Both(nameof(MixedPrecision), Model, "--mixed-precision", "mixed precision");
    /// <summary>NHWC activations.</summary>
    public static readonly OptionKey ChannelsLast = Both(nameof(ChannelsLast), Model, "--channels-last", "channels-last activations");

    /// <summary>fastai's progress table on the console.</summary>
    public static readonly OptionKey ShowProgress = Both(nameof(ShowProgress), Model, null, "the progress table");

    // The schedule: Learner's FineTune/FitOneCycle/Fit arguments.
    /// <summary>fine_tune, fit_one_cycle or fit.</summary>
    public static readonly OptionKey Schedule = new(nameof(Schedule), "the schedule (FineTune, FitOneCycle or Fit)", Estimator + nameof(Schedule), "--schedule", "the schedule");
    /// <summary>Epochs (the unfrozen epochs of fine_tune).</summary>
    public static readonly OptionKey Epochs = new(nameof(Epochs), "epochs", Estimator + nameof(Epochs), "--epochs", "the epochs");
    /// <summary>fine_tune's frozen epochs.</summary>
    public static readonly OptionKey FreezeEpochs = new(nameof(FreezeEpochs), "freezeEpochs", Estimator + nameof(FreezeEpochs), "--freeze-epochs", "the frozen epochs");
    /// <summary>fine_tune's base learning rate.</summary>
    public static readonly OptionKey BaseLearningRate = new(nameof(BaseLearningRate), "baseLr", Estimator + nameof(BaseLearningRate), "--base-lr", "the base learning rate");
    /// <summary>fit_one_cycle and fit on every layer of a pretrained model.</summary>
    public static readonly OptionKey Unfreeze = new(nameof(Unfreeze), "Unfreeze()", Estimator + nameof(Unfreeze), "--unfreeze", "unfreezing");

    // Mixing training batches.
    /// <summary>fastai's MixUp and its alpha.</summary>
    public static readonly OptionKey MixUp = new(nameof(MixUp), "learn.AddCallback(new MixUp(alpha))", Estimator + nameof(MixUp), "--mixup", "MixUp");
    /// <summary>fastai's CutMix and its alpha.</summary>
    public static readonly OptionKey CutMix = new(nameof(CutMix), "learn.AddCallback(new CutMix(alpha))", Estimator + nameof(CutMix), "--cutmix", "CutMix");

    /// <summary>Whether a fitted ML.NET model keeps its training images and optimizer state.</summary>
    public static readonly OptionKey KeepTrainingState = new(nameof(KeepTrainingState), "kept until learn.ReleaseTrainingState()", Estimator + nameof(KeepTrainingState), null, "keeping the training state");

    // The ML.NET trainer's columns.
    /// <summary>The image column.</summary>
    public static readonly OptionKey ImageColumnName = new(nameof(ImageColumnName), "fnCol", Estimator + nameof(ImageColumnName), "--fn-col", "the image column");
    /// <summary>The image column, by ML.NET's name for a trainer's input.</summary>
    public static readonly OptionKey FeatureColumnName = new(nameof(FeatureColumnName), "fnCol", Estimator + nameof(FeatureColumnName), "--fn-col", "the image column");
    /// <summary>The label column.</summary>
    public static readonly OptionKey LabelColumnName = new(nameof(LabelColumnName), "labelCol", Estimator + nameof(LabelColumnName), "--label-col", "the label column");
    /// <summary>The output column of class probabilities.</summary>
    public static readonly OptionKey ScoreColumnName = new(nameof(ScoreColumnName), "the score column", Estimator + nameof(ScoreColumnName), null, "the score column");
    /// <summary>The output column of the predicted class.</summary>
    public static readonly OptionKey PredictedLabelColumnName = new(nameof(PredictedLabelColumnName), "the predicted label column", Estimator + nameof(PredictedLabelColumnName), null, "the predicted label column");
    /// <summary>The folder relative image paths start from.</summary>
    public static readonly OptionKey ImageFolder = new(nameof(ImageFolder), "the image folder", Estimator + nameof(ImageFolder), "--image-folder", "the image folder");
    /// <summary>Validation metrics.</summary>
    public static readonly OptionKey Metrics = Both(nameof(Metrics), Model, null, "the metrics");
    /// <summary>Extra training callbacks.</summary>
    public static readonly OptionKey Callbacks = Both(nameof(Callbacks), Model, null, "the callbacks");

    // The split and what only some doors have.
    /// <summary>The share of training data held out for validation.</summary>
    public static readonly OptionKey ValidationFraction = new(nameof(ValidationFraction), "validPct", Estimator + nameof(ValidationFraction), "--valid-pct", "the validation fraction");
    /// <summary>The saved network in int8 (ONNX QDQ), checked against float32 on the validation set.</summary>
    public static readonly OptionKey Int8 = new(nameof(Int8), "int8", Estimator + nameof(Int8), "--int8", "int8 quantization",
        value => value is true ? "pass --int8" : "leave out --int8");
    /// <summary>Early stopping.</summary>
    public static readonly OptionKey EarlyStopping = new(nameof(EarlyStopping), "EarlyStoppingCallback", Estimator + nameof(EarlyStopping), "--early-stopping", "early stopping");
}
