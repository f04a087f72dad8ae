using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// The pipeline, <c>MapValueToKey("Label") → FastAiCnn(options) → MapKeyToValue("PredictedLabel")</c>, fitted
/// once on the whole MNIST sample training folder (1,200 images; the estimator holds out 20% for validation) with
/// fastai's recipe: ImageNet ResNet-18, <c>fine_tune(1)</c> (one frozen and one unfrozen epoch), batch 32, seed 0.
/// The 300 testing images stay unseen until the tests score them. The only full-size training of the test suite.
/// </summary>
public sealed class MnistPipelineFixture : IDisposable
{
    public MnistPipelineFixture()
    {
        TestTorch.UseOneThread();
        var clock = Stopwatch.StartNew();
        Context = new MLContext(seed: 1);
        TrainRows = MnistSample.Take("training", 120).Select(t => new ImageRow { ImagePath = t.Path, Label = t.Label }).ToArray();
        TestRows = MnistSample.Take("testing", 30).Select(t => new ImageRow { ImagePath = t.Path, Label = t.Label }).ToArray();
        TestData = Context.Data.LoadFromEnumerable(TestRows);
        var options = new FastAiCnnOptions { Epochs = 1, BatchSize = 32, Seed = 0, Device = ComputeDevice.Cpu };
        var pipeline = Context.Transforms.Conversion.MapValueToKey("Label")
            .Append(Context.MulticlassClassification.Trainers.FastAiCnn(options))
            .Append(Context.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        Model = pipeline.Fit(Context.Data.LoadFromEnumerable(TrainRows));
        TrainingTime = clock.Elapsed;
        Cnn = Model.OfType<FastAiCnnTransformer>().Single();
        KeyMapping = Model.First();
        Scored = Model.Transform(TestData);
        Metrics = Context.MulticlassClassification.Evaluate(Scored);
        Folder = Path.Combine(Path.GetTempPath(), "fastai-pipeline-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        _savedModel = new Lazy<string>(() =>
        {
            string path = Path.Combine(Folder, "mnist-model.zip");
            Context.Model.Save(Model, TestData.Schema, path);
            return path;
        });
    }

    /// <summary>The fitted pipeline saved with <c>mlContext.Model.Save</c> (on first use).</summary>
    public string SavedModelPath => _savedModel.Value;

    private readonly Lazy<string> _savedModel;

    public MLContext Context { get; }
    public ImageRow[] TrainRows { get; }
    public ImageRow[] TestRows { get; }
    public IDataView TestData { get; }
    public TransformerChain<Microsoft.ML.Transforms.KeyToValueMappingTransformer> Model { get; }
    public FastAiCnnTransformer Cnn { get; }

    /// <summary>The fitted MapValueToKey: turns text labels into the model's keys.</summary>
    public ITransformer KeyMapping { get; }

    public IDataView Scored { get; }
    public MulticlassClassificationMetrics Metrics { get; }
    public TimeSpan TrainingTime { get; }

    /// <summary>Scratch space for saved models.</summary>
    public string Folder { get; }

    public void Dispose()
    {
        Model.Dispose();  // the chain disposes its parts, the FastAiCnn transformer (learner, data, ONNX session) included
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}

[CollectionDefinition(Name)]
public sealed class MnistPipelineCollection : ICollectionFixture<MnistPipelineFixture>
{
    public const string Name = "MNIST sample pipeline";
}
