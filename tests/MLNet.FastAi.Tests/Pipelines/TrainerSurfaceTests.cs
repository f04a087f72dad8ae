using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Training;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using Xunit.Abstractions;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// What ML.NET users expect of a trainer: output column names, a validation-set parameter and <c>Fit(train,
/// validation)</c>, training without validation, a per-epoch metrics delegate, early stopping as an option, and a
/// score column that carries ML.NET's multiclass annotations.
/// </summary>
public sealed class TrainerSurfaceTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly MLContext _ml = new(seed: 1);
    private readonly List<string> _log = new();
    private readonly IDataView _train;
    private readonly IDataView _valid;
    private readonly TemporaryFolder _temp = new();

    public TrainerSurfaceTests(ITestOutputHelper output)
    {
        _output = output;
        TestTorch.UseOneThread();
        _ml.Log += (_, e) => { lock (_log) _log.Add(e.Message); };
        var keys = KeyMapping(_ml);
        _train = keys.Transform(_ml.Data.LoadFromEnumerable(Rows(8)));
        _valid = keys.Transform(_ml.Data.LoadFromEnumerable(Rows(4, skip: 8)));
    }

    public void Dispose() => _temp.Dispose();

    private List<string> LogLines(string containing)
    {
        lock (_log) return _log.Where(m => m.Contains(containing, StringComparison.Ordinal)).ToList();
    }

    [Fact]
    public void RenamedOutputColumns_AreTheOnesScoredEvaluatedAndSaved()
    {
        var options = Options();
        options.ScoreColumnName = "Probabilities";
        options.PredictedLabelColumnName = "Digit";
        using var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid);

        var scored = model.Transform(_valid);
        Assert.Null(scored.Schema.GetColumnOrNull("Score"));
        Assert.Null(scored.Schema.GetColumnOrNull("PredictedLabel"));
        var metrics = _ml.MulticlassClassification.Evaluate(scored, "Label", "Probabilities", "Digit");
        Assert.Equal(12, metrics.ConfusionMatrix.Counts.Sum(row => row.Sum()));
        Assert.Equal(metrics.MicroAccuracy, model.Evaluate(_ml, _valid).MicroAccuracy);
        var digits = _ml.Transforms.Conversion.MapKeyToValue("Digit").Fit(scored).Transform(scored).GetColumn<string>("Digit");
        Assert.All(digits, d => Assert.Contains(d, Digits));

        string zip = Path.Combine(_temp.Path, "renamed.zip");
        _ml.Model.Save(model, _train.Schema, zip);
        var reloadedModel = _ml.Model.Load(zip, out _);
        using var release = reloadedModel as IDisposable;
        var reloaded = reloadedModel.Transform(_valid);
        Assert.Null(reloaded.Schema.GetColumnOrNull("Score"));
        Assert.Equal(scored.GetColumn<uint>("Digit"), reloaded.GetColumn<uint>("Digit"));
        var (inProcess, loaded) = (scored.GetColumn<float[]>("Probabilities").ToArray(), reloaded.GetColumn<float[]>("Probabilities").ToArray());
        Assert.True(inProcess.Zip(loaded, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max() <= Tolerances.Probability);
    }

    [Fact]
    public void TheScoreColumn_CarriesMLNetsMulticlassAnnotations_InProcess_WhileTheSavedModelsHasItsSlotNames()
    {
        using var model = _ml.MulticlassClassification.Trainers.FastAiCnn(Options()).Fit(_train, _valid);

        var schema = model.Transform(_valid).Schema;
        var score = schema["Score"];
        Assert.Equal("MulticlassClassification", Text(score, "ScoreColumnKind"));
        Assert.Equal("Score", Text(score, "ScoreValueKind"));
        Assert.Equal(Digits, Texts(score, "TrainingLabelValues"));
        Assert.Equal(Digits, Texts(score, "SlotNames"));
        uint scoreSet = 0, labelSet = 0;
        score.Annotations.GetValue("ScoreColumnSetId", ref scoreSet);
        schema["PredictedLabel"].Annotations.GetValue("ScoreColumnSetId", ref labelSet);
        Assert.NotEqual(0u, scoreSet);
        Assert.Equal(labelSet, scoreSet);
        Assert.Equal("MulticlassClassification", Text(schema["PredictedLabel"], "ScoreColumnKind"));
        Assert.Equal(schema.Select(c => c.Name), model.GetOutputSchema(_valid.Schema).Select(c => c.Name));
        Assert.Equal("MulticlassClassification", Text(model.GetOutputSchema(_valid.Schema)["Score"], "ScoreColumnKind"));

        string zip = Path.Combine(_temp.Path, "annotations.zip");
        _ml.Model.Save(model, _train.Schema, zip);
        var savedModel = _ml.Model.Load(zip, out _);
        using var release = savedModel as IDisposable;
        var saved = savedModel.GetOutputSchema(_valid.Schema)["Score"];
        Assert.Equal(new[] { "SlotNames" }, saved.Annotations.Schema.Select(a => a.Name));
    }

    private static string Text(DataViewSchema.Column column, string annotation)
    {
        var value = default(ReadOnlyMemory<char>);
        column.Annotations.GetValue(annotation, ref value);
        return value.ToString();
    }

    private static string[] Texts(DataViewSchema.Column column, string annotation)
    {
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.Annotations.GetValue(annotation, ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }

    [Fact]
    public void TheSimpleOverload_TakesMLNetsParameterNames_AndAValidationSet()
    {
        var estimator = _ml.MulticlassClassification.Trainers.FastAiCnn(labelColumnName: "LabelAsKey", featureColumnName: "Image",
            scoreColumnName: "Probabilities", predictedLabelColumnName: "Digit", validationSet: _valid);

        var o = estimator.Options;
        Assert.Equal(("LabelAsKey", "Image", "Probabilities", "Digit"), (o.LabelColumnName, o.FeatureColumnName, o.ScoreColumnName, o.PredictedLabelColumnName));
        Assert.Same(_valid, o.ValidationSet);
        Assert.Null(o.ImageColumnName);
    }

    [Fact]
    public void FitWithValidationData_ValidatesOnThoseRows_AndASecondValidationSetIsRefused()
    {
        var counter = new BatchCounter();
        var options = Options();
        options.Callbacks = [counter];
        using (var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid))
        {
            Assert.Equal(24, model.Learner.Data.Train.Count);
            Assert.Equal(12, model.Learner.Data.Valid.Count);
        }

        int batches = counter.Batches;
        options.ValidationSet = _valid;
        var e = Assert.Throws<ArgumentException>(() => _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid));
        Assert.Contains("FastAiCnnOptions.ValidationSet", e.Message);
        Assert.Equal(batches, counter.Batches);

        // ValidationSet alone is the same as Fit's argument.
        using var fromOption = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train);
        Assert.Equal(12, fromOption.Learner.Data.Valid.Count);
    }

    [Fact]
    public void ValidationFractionZero_TrainsOnEveryRow_WithoutValidationMetrics_AndSaysSo()
    {
        var epochs = new List<FastAiCnnEpochMetrics>();
        var options = Options();
        options.ValidationFraction = 0;
        options.Epochs = 2;
        options.MetricsCallback = epochs.Add;

        using var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train);

        Assert.Equal(24, model.Learner.Data.Train.Count);
        Assert.Equal(0, model.Learner.Data.Valid.Count);
        Assert.Equal(2, epochs.Count);
        Assert.All(epochs, m =>
        {
            Assert.Null(m.ValidationLoss);
            Assert.Empty(m.Metrics);
            Assert.True(double.IsFinite(m.TrainLoss));
        });
        Assert.Single(LogLines("training without validation"));
        Assert.Equal(2, LogLines("no validation lr").Count);
        Assert.All(model.Learner.Recorder.Epochs, r => Assert.True(double.IsNaN(r.ValidLoss)));
        // The model scores as any other.
        Assert.Equal(12, _ml.MulticlassClassification.Evaluate(model.Transform(_valid)).ConfusionMatrix.Counts.Sum(row => row.Sum()));
    }

    [Fact]
    public void MetricsCallback_ReceivesEveryEpochOfFineTuning_AsTheRecorderHasIt()
    {
        var epochs = new List<FastAiCnnEpochMetrics>();
        var options = Options();
        options.Schedule = TrainingSchedule.FineTune;
        options.FreezeEpochs = 1;
        options.Epochs = 2;
        options.MetricsCallback = epochs.Add;

        using var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid);

        epochs.ForEach(m => _output.WriteLine(m.ToString()));
        Assert.Equal(new[] { 0, 1, 2 }, epochs.Select(m => m.Epoch));
        Assert.All(epochs, m => Assert.Equal(3, m.TotalEpochs));
        Assert.Equal(new[] { true, false, false }, epochs.Select(m => m.BodyFrozen));
        var history = model.Learner.Recorder.History;
        Assert.Equal(history.Select(r => r.TrainLoss), epochs.Select(m => m.TrainLoss));
        Assert.Equal(history.Select(r => (double?)r.ValidLoss), epochs.Select(m => m.ValidationLoss));
        Assert.Equal(history.Select(r => r.Metrics["accuracy"]), epochs.Select(m => m.Metrics["accuracy"]));
        Assert.All(epochs, m => Assert.True(m.LearningRate > 0 && m.Duration > TimeSpan.Zero));
        Assert.Equal(3, LogLines(": train_loss ").Count);
    }

    [Fact]
    public void EarlyStopping_StopsWhenTheFollowedValueStopsImproving_InTheDirectionOfTheMetric()
    {
        // No later epoch can beat the first by a million: training stops after Patience epochs without improvement.
        var options = Options();
        options.Epochs = 6;
        options.EarlyStopping = new FastAiEarlyStopping { Metric = "train_loss", Patience = 1, MinDelta = 1e6 };
        using (var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid))
            Assert.Equal(2, model.Learner.Recorder.Epochs.Count);
        Assert.Single(LogLines("early stopping: no improvement in train_loss for 1 epoch(s)"));

        // Accuracy improves upwards; it cannot rise by 2, so the first epoch stays the best.
        options.EarlyStopping = new FastAiEarlyStopping { Metric = "accuracy", Patience = 2, MinDelta = 2 };
        using (var model = _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(_train, _valid))
            Assert.Equal(3, model.Learner.Recorder.Epochs.Count);
    }

    [Fact]
    public void OptionsThatDoNotFitTheInput_AreRefusedByName_BeforeAnyBatch()
    {
        var counter = new BatchCounter();
        var images = _ml.Transforms.LoadImages("Image", "", "ImagePath").Fit(_train).Transform(_train);
        var bytes = _ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(_train).Transform(_train);
        FastAiCnnOptions With(Action<FastAiCnnOptions> change)
        {
            var o = Options();
            o.FeatureColumnName = "Image";
            o.Callbacks = [counter];
            change(o);
            return o;
        }
        (FastAiCnnOptions Options, IDataView Data, string Option)[] cases =
        [
            (With(o => o.ImageFolder = "/images"), images, "ImageFolder"),
            (With(o => o.Cache = MLNet.FastAi.Data.ImageCacheMode.Stream), bytes, "Cache"),
            (With(o => { o.ValidationFraction = 0; o.EarlyStopping = new FastAiEarlyStopping(); }), images, "EarlyStopping"),
        ];
        foreach (var (options, data, option) in cases)
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => _ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(data));
            Assert.Equal(option, e.ParamName);
            Assert.Contains($"FastAiCnnOptions.{option}", e.Message);
        }
        Assert.Equal(0, counter.Batches);
    }
}
