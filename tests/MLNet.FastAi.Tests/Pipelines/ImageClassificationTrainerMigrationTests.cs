using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Training;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// ML.NET's image classification tutorial ("Train an image classification model with transfer learning") with its
/// pipeline as written — MapValueToKey → LoadRawImageBytes → TrainTestSplit (twice) → trainer → MapKeyToValue,
/// Evaluate, a PredictionEngine — and only the trainer line changed (its options class with it).
/// </summary>
public sealed class ImageClassificationTrainerMigrationTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TemporaryFolder _temp = new();

    public ImageClassificationTrainerMigrationTests(ITestOutputHelper output)
    {
        _output = output;
        TestTorch.UseOneThread();
        // The tutorial's assets: one folder per class. Here three digits, twenty images each.
        foreach (var (path, label) in MnistSample.Take("training", 20).Where(t => TinyPipelines.Digits.Contains(t.Label)))
        {
            string folder = Path.Combine(_temp.Path, $"digit-{label}");
            Directory.CreateDirectory(folder);
            File.Copy(path, Path.Combine(folder, Path.GetFileName(path)));
        }
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TheTutorialsPipeline_RunsWithOnlyTheTrainerLineChanged()
    {
        var mlContext = new MLContext(seed: 1);
        var epochs = new List<FastAiCnnEpochMetrics>();

        // The tutorial enumerates the folders by hand; LoadFromImageFolder gives the same rows.
        IDataView imageData = mlContext.Data.LoadFromImageFolder(_temp.Path);
        IDataView shuffledData = mlContext.Data.ShuffleRows(imageData);
        var preprocessingPipeline = mlContext.Transforms.Conversion.MapValueToKey(inputColumnName: "Label", outputColumnName: "LabelAsKey")
            .Append(mlContext.Transforms.LoadRawImageBytes(outputColumnName: "Image", imageFolder: _temp.Path, inputColumnName: "ImagePath"));
        IDataView preProcessedData = preprocessingPipeline.Fit(shuffledData).Transform(shuffledData);
        DataOperationsCatalog.TrainTestData trainSplit = mlContext.Data.TrainTestSplit(data: preProcessedData, testFraction: 0.3);
        DataOperationsCatalog.TrainTestData validationTestSplit = mlContext.Data.TrainTestSplit(trainSplit.TestSet);
        IDataView trainSet = trainSplit.TrainSet;
        IDataView validationSet = validationTestSplit.TrainSet;
        IDataView testSet = validationTestSplit.TestSet;

        var classifierOptions = new FastAiCnnOptions
        {
            FeatureColumnName = "Image",
            LabelColumnName = "LabelAsKey",
            ValidationSet = validationSet,
            MetricsCallback = metrics => { epochs.Add(metrics); _output.WriteLine(metrics.ToString()); },
            // Small and fast for a test; an application keeps the defaults (ImageNet ResNet-18, fine_tune).
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = FastAi.Training.PretrainedSource.None, Schedule = TrainingSchedule.OneCycle,
            Epochs = 2, ImageSize = 16, BatchSize = 8, Device = FastAi.Runtime.ComputeDevice.Cpu,
        };
        // The tutorial: mlContext.MulticlassClassification.Trainers.ImageClassification(classifierOptions)
        var trainingPipeline = mlContext.MulticlassClassification.Trainers.FastAiCnn(classifierOptions)
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        ITransformer trainedModel = trainingPipeline.Fit(trainSet);

        IDataView predictions = trainedModel.Transform(testSet);
        var metrics = mlContext.MulticlassClassification.Evaluate(predictions, labelColumnName: "LabelAsKey");
        _output.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

        long testRows = testSet.GetColumn<uint>("LabelAsKey").Count();
        Assert.True(testRows > 0);
        Assert.Equal(testRows, metrics.ConfusionMatrix.Counts.Sum(row => row.Sum()));
        Assert.Equal(3, metrics.ConfusionMatrix.NumberOfClasses);
        Assert.All(predictions.GetColumn<string>("PredictedLabel"), label => Assert.StartsWith("digit-", label));
        Assert.Equal(2, epochs.Count);
        Assert.All(epochs, m => Assert.NotNull(m.ValidationLoss));
        var cnn = ((IEnumerable<ITransformer>)trainedModel).OfType<FastAiCnnTransformer>().Single();
        Assert.Equal(validationSet.GetColumn<uint>("LabelAsKey").Count(), cnn.Learner.Data.Valid.Count);

        // The tutorial's ClassifySingleImage: a PredictionEngine over rows of encoded bytes.
        var predictionEngine = mlContext.Model.CreatePredictionEngine<ModelInput, ModelOutput>(trainedModel);
        var first = mlContext.Data.CreateEnumerable<ModelInput>(testSet, reuseRowObject: false).First();
        var prediction = predictionEngine.Predict(first);
        _output.WriteLine($"Image: {Path.GetFileName(first.ImagePath)} | Actual Value: {first.Label} | Predicted Value: {prediction.PredictedLabel}");
        Assert.StartsWith("digit-", prediction.PredictedLabel);
        Assert.Equal(3, prediction.Score.Length);
        Assert.Equal(1, prediction.Score.Sum(), 4);
    }

    private sealed class ModelInput
    {
        public byte[] Image { get; set; } = [];
        public uint LabelAsKey { get; set; }
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class ModelOutput
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}
