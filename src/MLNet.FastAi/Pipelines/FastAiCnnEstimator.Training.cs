using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Sources;
using MLNet.FastAi.Data.Sources.Columns;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Vision.Export;

namespace MLNet.FastAi.Pipelines;

public sealed partial class FastAiCnnEstimator
{
    /// <summary>Loads the images, trains the learner by the chosen schedule and builds the scoring chain.</summary>
    private FastAiCnnTransformer Train(IDataView input, IDataView? validation, ImageColumnKind kind, IReadOnlyList<string> classes, FitCancellation cancellation)
    {
        var o = Options;
        using var channel = _host.Start("FastAiCnn");
        int seed = o.Seed ?? _host.Rand.Next();
        channel.Info(MessageSensitivity.None, "{0}", $"FastAiCnn: seed {seed} " + (o.Seed is not null ? $"({OptionKey.Seed})."
            : ContextSeed is { } contextSeed ? $"(drawn from the MLContext's random source, seeded with {contextSeed}: the same program gives the same model)."
            : $"(drawn from an unseeded MLContext: runs differ; set {OptionKey.Seed} to this value to repeat this one)."));
        var recipe = o.Recipe.Seeded(seed);
        var dataOptions = recipe.LoadingOptions(_context) with { Log = line => channel.Info(MessageSensitivity.UserData, "{0}", $"FastAiCnn: {line}") };
        var data = kind == ImageColumnKind.Path
            ? LoadPaths(input, validation, classes, dataOptions, cancellation.Token)
            : new ColumnImageLoader(_context, o.ImageColumn, kind, o.LabelColumnName, classes, cancellation.ThrowIfCancellationRequested, cancellation.Token)
                .Load(input, validation, o.ValidationFraction, dataOptions);
        Learner? learner = null;
        try
        {
            Report(channel, data, classes);
            var early = o.EarlyStopping?.CreateCallback(o.Metrics);
            var callbacks = new List<Callback> { cancellation.Callback, new FitReporter(channel, o.MetricsCallback, recipe.Schedule.PlannedEpochs) };
            if (early is not null) callbacks.Add(early);
            learner = recipe.NewLearner(data, callbacks, _context);
            channel.Info(MessageSensitivity.None, "{0}", $"Training {o.Architecture} on {data.Train.Count} images ({data.Valid.Count} for validation), {classes.Count} classes, {data.Pipeline}, on {learner.Device}.");
            cancellation.ThrowIfCancellationRequested();
            recipe.Train(learner, cancellation.Token);
            if (early?.StoppedAtEpoch is { } stopped)
                channel.Info(MessageSensitivity.None, "{0}", $"FastAiCnn: early stopping: no improvement in {early.Monitor} for {early.Patience} epoch(s); the last stage stopped after its epoch {stopped}.");
            var (int8Network, int8) = Int8Network(learner, channel);
            var chain = int8Network is null
                ? StockScoringChain.Fit(_context, input, o.ImageColumn, o.ImageFolder, data.Pipeline, learner.CnnModel, learner.Normalization, classes, o.ScoreColumnName, o.PredictedLabelColumnName)
                : StockScoringChain.Fit(_context, input, o.ImageColumn, o.ImageFolder, data.Pipeline, int8Network, classes, o.ScoreColumnName, o.PredictedLabelColumnName);
            if (!o.KeepTrainingState) learner.ReleaseTrainingState();
            return new FastAiCnnTransformer(learner, chain, o.ImageColumn, o.ScoreColumnName, o.PredictedLabelColumnName, int8);
        }
        catch
        {
            learner?.Dispose();
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The int8 network when asked for and the accuracy guard accepts it; else none, and the model scores in float32. A
    /// refusal comes after training, so it keeps the work: the log says why, with the figures.
    /// </summary>
    private (byte[]? Network, Int8Report? Report) Int8Network(Learner learner, IChannel channel)
    {
        if (!Options.Int8) return (null, null);
        var (int8, report, _) = Int8Export.Build(learner, CnnOnnxSignature.MLNetRow);
        if (int8 is not null) channel.Info(MessageSensitivity.None, "{0}", $"FastAiCnn: {report}.");
        else channel.Warning(MessageSensitivity.None, "{0}", $"FastAiCnn: {report}; the model scores and saves in float32 instead.");
        return (int8, report);
    }

    /// <summary>Skipped images, classes nothing teaches, and training without validation: said in ML.NET's log before training.</summary>
    private static void Report(IChannel channel, ImageDataLoaders data, IReadOnlyList<string> classes)
    {
        foreach (var bad in data.SkippedImages) channel.Warning(MessageSensitivity.UserData, "{0}", $"Skipped unreadable image '{bad.Path}': {bad.Reason}");
        var taught = data.Train.LabelIndices.ToHashSet();
        var untrained = classes.Where((_, i) => !taught.Contains(i)).ToList();
        if (untrained.Count > 0)
            channel.Warning(MessageSensitivity.UserData, "{0}", $"FastAiCnn: no training image is labelled {string.Join(", ", untrained.Select(c => $"'{c}'"))}; " +
                "the model keeps these classes (they are in the label key) but cannot learn them.");
        if (data.Valid.Count == 0)
            channel.Info(MessageSensitivity.None, "{0}", "FastAiCnn: training without validation (ValidationFraction = 0, no validation data): " +
                "epochs report the training loss only; there is no validation loss or metric.");
    }

    /// <summary>The images of a path column through the package's data path (checked, decoded once, cached per its policy).</summary>
    private ImageDataLoaders LoadPaths(IDataView input, IDataView? validation, IReadOnlyList<string> classes, ImageDataOptions options, CancellationToken cancellation)
    {
        var rows = ReadRows(input, "training data", classes);
        List<(string, string)> train, valid;
        if (validation is not null)
        {
            train = rows;
            valid = ReadRows(validation, "validation data", classes);
        }
        else if (Options.ValidationFraction > 0)
        {
            var (trainIdx, validIdx) = RandomSplit.Split(rows.Count, Options.ValidationFraction, options.Seed!.Value);
            train = trainIdx.Select(i => rows[i]).ToList();
            valid = validIdx.Select(i => rows[i]).ToList();
        }
        else
        {
            train = rows;
            valid = [];
        }
        return ImageDataLoaders.FromItems(train, valid, null, options, classOrder: classes, validationOptional: true, cancellation: cancellation);
    }

    private List<(string Path, string Label)> ReadRows(IDataView data, string what, IReadOnlyList<string> classes)
    {
        string imageColumn = Options.ImageColumn;
        var image = data.Schema[imageColumn];
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
                throw new InvalidDataException($"FastAiCnn: row {row} of the {what} has an empty '{imageColumn}'.");
            string full = Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(Options.ImageFolder, file));
            if (!File.Exists(full))
                throw new FileNotFoundException($"FastAiCnn: row {row} of the {what} names image '{file}', but '{full}' does not exist.", full);
            rows.Add((full, classes[(int)key - 1]));
            row++;
        }
        if (rows.Count == 0) throw new InvalidDataException($"FastAiCnn: the {what} has no rows.");
        return rows;
    }
}
