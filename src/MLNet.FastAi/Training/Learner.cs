using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Training.Optimizers;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>
/// Trains a CNN on <see cref="ImageDataLoaders"/> the way fastai's <c>Learner</c> does: Adam with decoupled weight
/// decay, parameter groups with discriminative learning rates, freezing, one-cycle schedules, <c>lr_find</c>, callbacks
/// around every step of the loop, predictions and checkpoints. Create one with <see cref="Vision"/>.
/// </summary>
/// <remarks>
/// <para>Serves one thread at a time. During a fit, callbacks run on the fitting thread and may take predictions or
/// save between phases (<c>AfterEpoch</c>, <c>AfterFit</c>). While one thread fits, predicts, saves, loads, freezes or
/// exports, any of those calls from another thread is refused with <see cref="InvalidOperationException"/> before it
/// changes or reads anything. Properties (the recorder, options, data) are not synchronized. To predict from many
/// threads, export the model (<see cref="LearnerExport.SaveMLNetModel"/>) and give each thread its own ML.NET PredictionEngine, or
/// share the model's <c>Transform</c>, which is thread-safe.</para>
/// <para>The learner owns its model and optimizer; dispose it to free device memory.</para>
/// </remarks>
public sealed partial class Learner : IDisposable
{
    private readonly CnnModel _model;
    private readonly List<Callback> _callbacks = new();
    private readonly IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> _groups;
    private readonly HashSet<string> _normParameterNames;
    private readonly HyperParameters _defaultHypers;
    private FlatAdamW? _optimizer;
    private readonly Dictionary<string, double> _metricValues = new();

    private Learner(ImageDataLoaders data, CnnModel model, Generator generator, VisionLearnerOptions options, Device device, NormalizationStats normalization)
    {
        Data = data;
        _model = model;
        _generator = generator;
        LossFunction = CrossEntropy;
        Options = options;
        Device = device;
        Normalization = normalization;
        Metrics = options.Metrics.Select(f => f()).ToList();
        _defaultHypers = new HyperParameters { LearningRate = options.LearningRate, WeightDecay = options.WeightDecay };

        var byReference = model.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        _groups = model.ParameterGroups().Select(g => (IReadOnlyList<(string, Parameter)>)g.Select(p => (byReference[p.Handle], p)).ToList()).ToList();
        _normParameterNames = model.named_modules()
            .Where(m => m.module is BatchNorm1d or BatchNorm2d)
            .SelectMany(m => m.module.named_parameters().Select(p => $"{m.name}.{p.name}"))
            .ToHashSet();

        Recorder = new Recorder();
        AddCallback(Recorder);
        if (options.ShowProgress) AddCallback(new ProgressCallback());
        foreach (var cb in options.Callbacks) AddCallback(cb);
    }

    /// <summary>
    /// fastai's <c>vision_learner</c> (formerly <c>cnn_learner</c>): a ResNet body with fastai's head sized to the
    /// data's classes; pretrained bodies start frozen. Normalization: the data's, else ImageNet statistics when
    /// pretrained (fastai adds <c>Normalize.from_stats(*imagenet_stats)</c> only when none is set).
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range or the weights do not fit the architecture.</exception>
    /// <param name="data">The images.</param>
    /// <param name="options">Architecture, weights, metrics, callbacks, optimizer and device settings.</param>
    /// <param name="context">An ML.NET context whose <c>GpuDeviceId</c> and <c>FallbackToCpu</c> steer the device choice.</param>
    public static Learner Vision(ImageDataLoaders data, VisionLearnerOptions? options = null, Microsoft.ML.MLContext? context = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new VisionLearnerOptions();
        options.Validate();
        TorchRuntime.EnsureInitialized();
        var device = TorchRuntime.ResolveDevice(options.Device, context);

        var pretrained = options.Pretrained ?? (MLNetWeightsFit(options.Architecture) ? PretrainedSource.MLNetImageNet : PretrainedSource.None);
        var normalization = data.Normalization ?? (pretrained == PretrainedSource.None ? NormalizationStats.None : NormalizationStats.ImageNet);
        if (data.Normalization is null) data.Normalize(normalization);

        var generator = NewGenerator(options.Seed);
        CnnModel model;
        try
        {
            model = new CnnModel(options.Architecture, data.ClassCount, options.Dropout, generator)
            {
                BodyPrecision = options.MixedPrecision ? ScalarType.BFloat16 : ScalarType.Float32,
                ChannelsLast = options.ChannelsLast,
            };
        }
        catch
        {
            generator.Dispose();
            throw;
        }
        try
        {
            switch (pretrained)
            {
                case PretrainedSource.MLNetImageNet:
                    MLNetResNet18Weights.Load(model.Body, normalization);
                    break;
                case PretrainedSource.File:
                    WeightFiles.LoadBody(model.Body, options.WeightsFile!);
                    break;
            }
            model.to(device);
        }
        catch
        {
            model.Dispose();
            generator.Dispose();
            throw;
        }
        var learner = new Learner(data, model, generator, options, device, normalization) { IsPretrained = pretrained != PretrainedSource.None };
        if (learner.IsPretrained) learner.Freeze();
        return learner;
    }

    private static bool MLNetWeightsFit(ResNetArchitecture a) =>
        a.Block == ResidualBlockKind.Basic && (a.BlocksPerStage.SequenceEqual(ResNetArchitecture.ResNet18.BlocksPerStage) || a.BlocksPerStage.SequenceEqual(ResNetArchitecture.ResNet18Cntk.BlocksPerStage));

    /// <summary>The data this learner trains on.</summary>
    public ImageDataLoaders Data { get; }

    /// <summary>The options it was created with.</summary>
    public VisionLearnerOptions Options { get; }

    /// <summary>The device training runs on.</summary>
    public Device Device { get; }

    /// <summary>The input normalization the model expects (also folded into exported models).</summary>
    public NormalizationStats Normalization { get; }

    /// <summary>True when the body started from pretrained weights.</summary>
    public bool IsPretrained { get; private init; }

    /// <summary>The network (body followed by head).</summary>
    public nn.Module<Tensor, Tensor> Model => _model;

    internal CnnModel CnnModel => _model;

    /// <summary>The recorder of losses, learning rates and the epoch table.</summary>
    public Recorder Recorder { get; }

    /// <summary>The validation metrics.</summary>
    public IReadOnlyList<Metric> Metrics { get; }

    /// <summary>Last computed value of each metric, by name.</summary>
    public IReadOnlyDictionary<string, double> MetricValues => _metricValues;

    /// <summary>The callbacks attached for every fit, in execution order.</summary>
    public IReadOnlyList<Callback> Callbacks => _callbacks.OrderBy(c => c.Order).ToList();

    /// <summary>Number of parameter groups (3 for ResNets: early body, late body, head).</summary>
    public int GroupCount => _groups.Count;

    /// <summary>The parameter groups (body stages, head), each parameter with its state-dict name.</summary>
    internal IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> Groups => _groups;

    /// <summary>The folder <see cref="LearnerCheckpoints.Save"/> writes to: <see cref="VisionLearnerOptions.ModelDirectory"/>.</summary>
    public string ModelDirectory => Path.GetFullPath(Options.ModelDirectory);

    /// <summary>Hyper-parameters of each parameter group (learning rate, momentum, ...).</summary>
    public IReadOnlyList<HyperParameters> Hypers => Optimizer.Hypers;

    internal FlatAdamW Optimizer => _optimizer ??= CreateOptimizer();

    /// <summary>Attaches a callback for every later fit.</summary>
    public Learner AddCallback(Callback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        callback.Learner = this;
        _callbacks.Add(callback);
        return this;
    }

    /// <summary>Detaches a callback.</summary>
    public Learner RemoveCallback(Callback callback)
    {
        _callbacks.Remove(callback);
        return this;
    }

    /// <summary>Freezes every parameter group but the last (the head); BatchNorm stays trainable (fastai's <c>freeze</c>).</summary>
    public void Freeze()
    {
        using var use = Use(nameof(Freeze));
        FreezeTo(-1);
    }

    /// <summary>Makes every parameter trainable (fastai's <c>unfreeze</c>).</summary>
    public void Unfreeze()
    {
        using var use = Use(nameof(Unfreeze));
        FreezeTo(0);
    }

    /// <summary>
    /// Freezes the first <paramref name="n"/> groups (negative counts from the end), keeping BatchNorm parameters
    /// trainable when <see cref="VisionLearnerOptions.TrainBatchNorm"/>; clears the optimizer state as fastai does.
    /// </summary>
    public void FreezeTo(int n)
    {
        using var use = Use(nameof(FreezeTo));
        int frozen = n >= 0 ? Math.Min(n, _groups.Count) : Math.Max(0, _groups.Count + n);
        for (int g = 0; g < _groups.Count; g++)
            foreach (var (name, p) in _groups[g])
                p.requires_grad = g >= frozen || (Options.TrainBatchNorm && _normParameterNames.Contains(name));
        _optimizer?.Rebuild();
        FrozenGroups = frozen;
    }

    /// <summary>Number of leading parameter groups currently frozen.</summary>
    public int FrozenGroups { get; private set; }

    /// <summary>Names of the parameters that training currently updates.</summary>
    public IReadOnlyList<string> TrainableParameterNames =>
        _groups.SelectMany(g => g).Where(p => p.Parameter.requires_grad).Select(p => p.Name).ToList();

    /// <summary>True for BatchNorm parameters (which stay trainable in frozen groups).</summary>
    public bool IsNormParameter(string name) => _normParameterNames.Contains(name);

    private FlatAdamW CreateOptimizer()
    {
        bool Decays(string name) => Options.WeightDecayOnNormAndBias || !(_normParameterNames.Contains(name) || name.EndsWith(".bias", StringComparison.Ordinal));
        return new FlatAdamW(_groups, Decays, _defaultHypers);
    }

    /// <summary>Sets every group's learning rate (a single value or a slice).</summary>
    public void SetLearningRates(LearningRates lrs)
    {
        using var use = Use(nameof(SetLearningRates));
        var values = lrs.ForGroups(_groups.Count);
        for (int g = 0; g < values.Length; g++) Hypers[g].LearningRate = values[g];
    }

    /// <summary>The managed thread using the learner now, 0 when none: a learner serves one thread at a time.</summary>
    private int _user;

    /// <summary>
    /// Claims the learner for this thread until the result is disposed. Re-entrant on the same thread (callbacks call
    /// back into the learner during a fit); a call from another thread meanwhile is refused before it changes or reads
    /// anything, since fitting, predicting (eval mode), freezing and saving all touch the same model and optimizer.
    /// </summary>
    internal ThreadClaim Use(string operation)
    {
        int me = Environment.CurrentManagedThreadId;
        int current = Interlocked.CompareExchange(ref _user, me, 0);
        if (current == 0) return new ThreadClaim(this);
        if (current == me) return default;
        throw new InvalidOperationException(
            $"{operation} was called while another thread is using this learner{(IsFitting ? " (a fit is running)" : "")}; a Learner serves " +
            "one thread at a time. To predict from several threads, use one PredictionEngine per thread or a saved model's Transform.");
    }

    internal readonly struct ThreadClaim(Learner? owner) : IDisposable
    {
        public void Dispose()
        {
            if (owner is not null) Volatile.Write(ref owner._user, 0);
        }
    }

    /// <summary>A fit started from a callback during another fit on the same thread (the other threads are refused by <see cref="Use"/>).</summary>
    internal void RefuseNestedFit()
    {
        if (IsFitting) throw new InvalidOperationException("A fit is already running on this learner.");
    }

    /// <summary>Frees the model, optimizer and callbacks' resources.</summary>
    public void Dispose()
    {
        _optimizer?.Dispose();
        foreach (var cb in _callbacks.OfType<IDisposable>()) cb.Dispose();
        foreach (var m in Metrics) m.Release();
        _model.Dispose();
        _generator.Dispose();
    }
}
