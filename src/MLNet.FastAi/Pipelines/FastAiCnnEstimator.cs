using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.FastAi.Data;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// An ML.NET estimator that trains a fastai-style CNN classifier (pretrained ResNet body, fastai head, one-cycle
/// fine-tuning) on an image-path column and a key label column. <see cref="Fit"/> returns a
/// <see cref="FastAiCnnTransformer"/> that adds <c>Score</c> (class probabilities, slot names = class names) and
/// <c>PredictedLabel</c> (a key with the label's key values), like ML.NET's own multiclass trainers, and that
/// <c>mlContext.Model.Save</c> writes with stock ML.NET components only.
/// </summary>
/// <remarks>Create it with <c>mlContext.MulticlassClassification.Trainers.FastAiCnn(...)</c>.</remarks>
public sealed class FastAiCnnEstimator : IEstimator<FastAiCnnTransformer>
{
    private readonly MLContext _context;
    private readonly IHostEnvironment _environment;

    /// <summary>Creates the estimator on an ML.NET context.</summary>
    public FastAiCnnEstimator(MLContext context, FastAiCnnOptions options) : this((IHostEnvironment)context, options) { }

    internal FastAiCnnEstimator(IHostEnvironment environment, FastAiCnnOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _environment = environment;
        _context = environment as MLContext ?? ContextWithSettingsOf(environment, options.Seed);
        Options = options;
    }

    /// <summary>
    /// An MLContext carrying the GPU settings of <paramref name="environment"/>. A catalog holds its MLContext's inner
    /// environment, not the context itself; that environment has the <c>GpuDeviceId</c> and <c>FallbackToCpu</c> the
    /// user set on the context (public properties of ML.NET's environment class, read by name).
    /// </summary>
    private static MLContext ContextWithSettingsOf(IHostEnvironment environment, int? seed)
    {
        var type = environment.GetType();
        return new MLContext(seed)
        {
            GpuDeviceId = type.GetProperty(nameof(MLContext.GpuDeviceId))?.GetValue(environment) as int?,
            FallbackToCpu = type.GetProperty(nameof(MLContext.FallbackToCpu))?.GetValue(environment) as bool? ?? false,
        };
    }

    /// <summary>The options.</summary>
    public FastAiCnnOptions Options { get; }

    /// <summary>Trains on <paramref name="input"/> and returns the scoring transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a column is missing or of the wrong type (named in the message).</exception>
    /// <exception cref="InvalidDataException">A row lacks a label, or an image cannot be read (named in the message).</exception>
    public FastAiCnnTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = Options;
        // The options are a mutable class checked when the estimator was made; they may have changed since.
        o.Validate();
        InputSchema.CheckImageColumn(input.Schema, o.ImageColumnName, allowLoadedImages: false);
        var classes = InputSchema.CheckLabelColumn(input.Schema, o.LabelColumnName);
        int seed = o.Seed ?? 0;

        var rows = ReadRows(input, "training data", classes);
        List<(string, string)> train, valid;
        if (o.ValidationSet is { } validation)
        {
            InputSchema.CheckImageColumn(validation.Schema, o.ImageColumnName, allowLoadedImages: false);
            var validClasses = InputSchema.CheckLabelColumn(validation.Schema, o.LabelColumnName);
            if (!validClasses.SequenceEqual(classes))
                throw new ArgumentException($"FastAiCnn: the validation set's label keys [{string.Join(", ", validClasses)}] differ from the training data's [{string.Join(", ", classes)}]; transform both with the same fitted MapValueToKey.");
            train = rows;
            valid = ReadRows(validation, "validation data", classes);
        }
        else
        {
            var (trainIdx, validIdx) = Data.Sources.RandomSplit.Split(rows.Count, o.ValidationFraction, seed);
            train = trainIdx.Select(i => rows[i]).ToList();
            valid = validIdx.Select(i => rows[i]).ToList();
        }

        using var channel = _environment.Start("FastAiCnn");
        var untrained = classes.Except(train.Select(t => t.Item2)).ToList();
        if (untrained.Count > 0)
            channel.Warning(MessageSensitivity.UserData, "{0}", $"FastAiCnn: no training image is labelled {string.Join(", ", untrained.Select(c => $"'{c}'"))}; " +
                "the model keeps these classes (they are in the label key) but cannot learn them.");
        var dataOptions = new ImageDataOptions
        {
            BatchSize = o.BatchSize, ImageSize = o.ImageSize, ItemSize = o.ItemSize, Resize = o.Resize, Seed = seed,
            OnBadImage = o.OnBadImage, Augmentation = o.Augmentation, Normalization = o.Normalization,
            Cache = o.Cache, CacheFolder = o.CacheFolder, Log = line => channel.Info(MessageSensitivity.UserData, "{0}", $"FastAiCnn: {line}"),
        };
        var data = LoadImages(train, valid, dataOptions, classes);
        Learner? learner = null;
        try
        {
            foreach (var bad in data.SkippedImages) channel.Warning(MessageSensitivity.UserData, "{0}", $"Skipped unreadable image '{bad.Path}': {bad.Reason}");
            var callbacks = new List<Callback> { new ChannelLoggerCallback(channel) };
            callbacks.AddRange(o.Callbacks);
            learner = Learner.Vision(data, new VisionLearnerOptions
            {
                Architecture = o.Architecture, Pretrained = o.Pretrained, WeightsFile = o.WeightsFile, Dropout = o.Dropout,
                Metrics = o.Metrics, Callbacks = callbacks, LearningRate = o.LearningRate, WeightDecay = o.WeightDecay,
                LabelSmoothing = o.LabelSmoothing, Device = o.Device, Seed = seed, ShowProgress = o.ShowProgress,
                MixedPrecision = o.MixedPrecision, ChannelsLast = o.ChannelsLast,
            }, _context);
            channel.Info(MessageSensitivity.None, "{0}", $"Training {o.Architecture} on {data.Train.Count} images ({data.Valid.Count} for validation), {classes.Count} classes, {data.Pipeline}, on {learner.Device}.");
            switch (o.Schedule)
            {
                case TrainingSchedule.FineTune:
                    learner.FineTune(o.Epochs, o.BaseLearningRate, o.FreezeEpochs);
                    break;
                case TrainingSchedule.OneCycle:
                    learner.FitOneCycle(o.Epochs, o.LearningRate);
                    break;
                default:
                    learner.Fit(o.Epochs, o.LearningRate);
                    break;
            }
            var chain = StockScoringChain.Fit(_context, input, o.ImageColumnName, o.ImageFolder, data.Pipeline, learner.CnnModel, learner.Normalization, classes);
            return new FastAiCnnTransformer(learner, chain);
        }
        catch
        {
            learner?.Dispose();
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The images through the package's data path; its refusals name <see cref="ImageDataOptions"/>' options, which
    /// this estimator's users set on <see cref="FastAiCnnOptions"/>.
    /// </summary>
    private static ImageDataLoaders LoadImages(List<(string, string)> train, List<(string, string)> valid, ImageDataOptions options, IReadOnlyList<string> classes)
    {
        static string Renamed(string message) => message.Replace("ImageDataOptions.", "FastAiCnnOptions.", StringComparison.Ordinal);
        try
        {
            return ImageDataLoaders.FromSplits(train, valid, options: options, classes: classes);
        }
        catch (ArgumentException e) when (e.Message.Contains("ImageDataOptions.", StringComparison.Ordinal))
        {
            throw new ArgumentException(Renamed(e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)), e.ParamName, e);
        }
        catch (InsufficientMemoryException e)
        {
            throw new InsufficientMemoryException(Renamed(e.Message), e);
        }
    }

    /// <summary>The output schema: the input plus <c>Score</c> and <c>PredictedLabel</c>; checks the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        InputSchema.CheckImageColumn(inputSchema, Options.ImageColumnName);
        InputSchema.CheckLabelColumn(inputSchema, Options.LabelColumnName);
        // SchemaShape.Column has no public constructor; describe the new columns as a schema and convert it.
        var names = new DataViewSchema.Annotations.Builder();
        names.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, 2), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
        var keys = new DataViewSchema.Annotations.Builder();
        keys.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, 2), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
        var added = new DataViewSchema.Builder();
        added.AddColumn(StockScoringChain.ScoreColumn, new VectorDataViewType(NumberDataViewType.Single, 2), names.ToAnnotations());
        added.AddColumn(StockScoringChain.PredictedLabelColumn, new KeyDataViewType(typeof(uint), 2), keys.ToAnnotations());
        var newColumns = ShapeOf(added.ToSchema());
        var outputNames = newColumns.Select(c => c.Name).ToHashSet();
        return new SchemaShape(inputSchema.Where(c => !outputNames.Contains(c.Name)).Concat(newColumns));
    }

    /// <summary>
    /// <see cref="SchemaShape"/> offers no public way to describe a column (its constructors and <c>Create</c> are
    /// internal to ML.NET), so the shape of the added columns is made by ML.NET's own converter, reached by reflection.
    /// </summary>
    private static SchemaShape ShapeOf(DataViewSchema schema)
    {
        var create = typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, new[] { typeof(DataViewSchema) })
            ?? throw new NotSupportedException("This ML.NET version has no SchemaShape.Create(DataViewSchema); FastAiCnn cannot describe its output shape.");
        return (SchemaShape)create.Invoke(null, new object[] { schema })!;
    }

    private List<(string Path, string Label)> ReadRows(IDataView data, string what, IReadOnlyList<string> classes)
    {
        var image = data.Schema[Options.ImageColumnName];
        var label = data.Schema[Options.LabelColumnName];
        var rows = new List<(string, string)>();
        using var cursor = data.GetRowCursor(new[] { image, label });
        var getImage = cursor.GetGetter<ReadOnlyMemory<char>>(image);
        var getLabel = cursor.GetGetter<uint>(label);
        ReadOnlyMemory<char> path = default;
        uint key = 0;
        long row = 0;
        while (cursor.MoveNext())
        {
            getImage(ref path);
            getLabel(ref key);
            string file = path.ToString();
            if (key == 0 || key > classes.Count)
                throw new InvalidDataException($"FastAiCnn: row {row} of the {what} ('{file}') has no label in '{Options.LabelColumnName}' (a missing key); every training image needs one of [{string.Join(", ", classes)}].");
            if (string.IsNullOrWhiteSpace(file))
                throw new InvalidDataException($"FastAiCnn: row {row} of the {what} has an empty '{Options.ImageColumnName}'.");
            string full = Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(Options.ImageFolder, file));
            if (!File.Exists(full))
                throw new FileNotFoundException($"FastAiCnn: row {row} of the {what} names image '{file}', but '{full}' does not exist.", full);
            rows.Add((full, classes[(int)key - 1]));
            row++;
        }
        if (rows.Count == 0) throw new InvalidDataException($"FastAiCnn: the {what} has no rows.");
        return rows;
    }

    /// <summary>Forwards the epoch table to ML.NET's log (<c>MLContext.Log</c>).</summary>
    private sealed class ChannelLoggerCallback : Callback
    {
        private readonly IChannel _channel;

        public ChannelLoggerCallback(IChannel channel) => _channel = channel;

        public override int Order => 75;

        public override bool RunsDuringLrFind => false;

        public override void AfterEpoch()
        {
            var r = Learner.Recorder.Epochs[^1];
            _channel.Info(MessageSensitivity.None, "{0}", $"epoch {r.Epoch}: train_loss {r.TrainLoss:0.000000} valid_loss {r.ValidLoss:0.000000} " +
                string.Join(" ", r.Metrics.Select(m => $"{m.Key} {m.Value:0.000000}")) + $" ({r.Duration.TotalSeconds:0.0}s)");
        }
    }
}
