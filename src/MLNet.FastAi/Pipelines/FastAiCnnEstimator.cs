using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// An ML.NET estimator that trains a fastai-style CNN classifier (pretrained ResNet body, fastai head, one-cycle
/// fine-tuning) on an image column — file paths, loaded images (<c>MLImage</c>) or encoded bytes — and a key label
/// column. <see cref="Fit(IDataView)"/> returns a <see cref="FastAiCnnTransformer"/> that adds a score column (class
/// probabilities, slot names = class names) and a predicted-label key column, like ML.NET's own multiclass trainers,
/// and that <c>mlContext.Model.Save</c> writes with stock ML.NET components only (not for encoded bytes, which no stock
/// component decodes: saving such a model is refused by name).
/// </summary>
/// <remarks>
/// <para>Create it with <c>mlContext.MulticlassClassification.Trainers.FastAiCnn(...)</c>.</para>
/// <para>
/// Seed: <see cref="FastAiCnnOptions.Seed"/>, else one drawn from the MLContext's random source, as ML.NET's trainers
/// draw theirs: a seeded context repeats its models, an unseeded one varies from run to run.
/// </para>
/// <para>
/// Cancellation: <c>mlContext.CancelExecution()</c> (ML.NET's own mechanism) or the token given to
/// <see cref="Fit(IDataView, IDataView?, CancellationToken)"/> stop training within one batch with
/// <see cref="OperationCanceledException"/>; nothing of the fit is kept. ML.NET's cancellation is permanent for its
/// context, whose estimators then refuse to fit; a cancelled token concerns one fit only.
/// </para>
/// </remarks>
public sealed partial class FastAiCnnEstimator : IEstimator<FastAiCnnTransformer>
{
    private readonly MLContext _context;
    private readonly IHost _host;

    /// <summary>Creates the estimator on an ML.NET context.</summary>
    public FastAiCnnEstimator(MLContext context, FastAiCnnOptions options) : this((IHostEnvironment)context, options) { }

    internal FastAiCnnEstimator(IHostEnvironment environment, FastAiCnnOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // Registered once, as ML.NET's trainers do: its random source gives each fit its seed, and it is cancelled with the context.
        _host = environment.Register("FastAiCnn");
        ContextSeed = EnvironmentInternals.SeedOf(environment);
        _context = environment as MLContext ?? ContextWithSettingsOf(environment);
        Options = options;
    }

    /// <summary>
    /// An MLContext carrying the GPU settings of <paramref name="environment"/>. A catalog holds its MLContext's inner
    /// environment, not the context itself; that environment has the <c>GpuDeviceId</c> and <c>FallbackToCpu</c> the
    /// user set on the context (public properties of ML.NET's environment class, read by name).
    /// </summary>
    private static MLContext ContextWithSettingsOf(IHostEnvironment environment)
    {
        var type = environment.GetType();
        return new MLContext(seed: 0)
        {
            GpuDeviceId = type.GetProperty(nameof(MLContext.GpuDeviceId))?.GetValue(environment) as int?,
            FallbackToCpu = type.GetProperty(nameof(MLContext.FallbackToCpu))?.GetValue(environment) as bool? ?? false,
        };
    }

    /// <summary>The options.</summary>
    public FastAiCnnOptions Options { get; }

    /// <summary>The seed of the MLContext the estimator was made on; null when it has none.</summary>
    private int? ContextSeed { get; }

    /// <summary>Trains on <paramref name="input"/>, validating on <see cref="FastAiCnnOptions.ValidationSet"/> or a held-out fraction.</summary>
    /// <exception cref="OptionException">An option is out of range or does not fit this input (<see cref="OptionException.Option"/> says which).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type (named in the message).</exception>
    /// <exception cref="InvalidDataException">A row lacks a label, or an image cannot be read (named in the message).</exception>
    /// <exception cref="OperationCanceledException">The MLContext was cancelled.</exception>
    public FastAiCnnTransformer Fit(IDataView input) => Fit(input, null, CancellationToken.None);

    /// <summary>
    /// Trains on <paramref name="input"/> and validates every epoch on <paramref name="validationData"/> (same
    /// columns; labels keyed by the same fitted MapValueToKey), as ML.NET trainers' <c>Fit(train, validation)</c>.
    /// </summary>
    public FastAiCnnTransformer Fit(IDataView input, IDataView validationData)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        return Fit(input, validationData, CancellationToken.None);
    }

    /// <summary>
    /// Trains with optional validation data, stopping within one batch when <paramref name="cancellationToken"/> or
    /// the MLContext is cancelled. Unlike the context's cancellation, a cancelled token leaves the estimator free to
    /// fit again.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token or the MLContext was cancelled; nothing of the fit is kept.</exception>
    public FastAiCnnTransformer Fit(IDataView input, IDataView? validationData, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var door = OptionText.Speak(OptionDoor.Estimator);
        var o = Options;
        // The options are a mutable class checked when the estimator was made; they may have changed since.
        o.Validate();
        if (validationData is not null && o.ValidationSet is not null)
            throw new ArgumentException("FastAiCnn: FastAiCnnOptions.ValidationSet is set and Fit was given validation data too; give one of them.", nameof(validationData));
        var validation = validationData ?? o.ValidationSet;
        var kind = InputSchema.CheckImageColumn(input.Schema, o.ImageColumn);
        var classes = InputSchema.CheckLabelColumn(input.Schema, o.LabelColumnName);
        if (validation is not null) InputSchema.CheckValidationData(validation.Schema, o.ImageColumn, kind, o.LabelColumnName, classes);
        RefuseOptionsThatDoNotFit(kind, validates: validation is not null || o.ValidationFraction > 0);

        using var cancellation = new FitCancellation(_host, cancellationToken);
        try
        {
            cancellation.ThrowIfCancellationRequested();
            return Train(input, validation, kind, classes, cancellation);
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            throw new OperationCanceledException(
                "FastAiCnn: training was cancelled" + (cancellationToken.IsCancellationRequested ? "" : " (the MLContext was cancelled; continue with a new MLContext)") +
                "; nothing of this fit was kept.", e, cancellation.Token);
        }
    }

    /// <summary>Options that are valid alone but not for this input, refused by name before anything is read.</summary>
    private void RefuseOptionsThatDoNotFit(ImageColumnKind kind, bool validates)
    {
        var o = Options;
        bool paths = kind == ImageColumnKind.Path;
        OptionChecks.Refuse(paths || string.IsNullOrEmpty(o.ImageFolder), OptionKey.ImageFolder, o.ImageFolder,
            $"{OptionKey.ImageFolder} is for image paths; column '{o.ImageColumn}' holds {kind.Describe()}. Leave it empty.");
        OptionChecks.Refuse(paths || o.Cache != ImageCacheMode.Stream, OptionKey.Cache, o.Cache, OptionText.Concat(
            $"{OptionKey.Cache} = Stream decodes image files every epoch; column '{o.ImageColumn}' holds {kind.Describe()}, which an ML.NET view ",
            $"can only read in order, not by row as shuffled batches need. Use Auto, Memory or Disk."));
        OptionChecks.Refuse(o.EarlyStopping is not { NeedsValidation: true } || validates, OptionKey.EarlyStopping, o.EarlyStopping?.Metric, OptionText.Concat(
            $"{OptionKey.EarlyStopping} follows '{o.EarlyStopping?.Metric}', a validation value, but there is no validation ({OptionKey.ValidationFraction} = 0 and no validation data). ",
            $"Follow 'train_loss', or give validation data."));
    }

    /// <summary>The output schema: the input plus the score and predicted-label columns; checks the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        InputSchema.CheckImageColumn(inputSchema, Options.ImageColumn);
        InputSchema.CheckLabelColumn(inputSchema, Options.LabelColumnName);
        // SchemaShape.Column has no public constructor; describe the new columns as a schema and convert it.
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        scoreAnnotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, 2), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
        scoreAnnotations.Add("ScoreColumnKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
        scoreAnnotations.Add("ScoreValueKind", TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory());
        var keys = new DataViewSchema.Annotations.Builder();
        keys.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, 2), (ref VBuffer<ReadOnlyMemory<char>> v) => v = default);
        var added = new DataViewSchema.Builder();
        added.AddColumn(Options.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, 2), scoreAnnotations.ToAnnotations());
        added.AddColumn(Options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), 2), keys.ToAnnotations());
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
}
