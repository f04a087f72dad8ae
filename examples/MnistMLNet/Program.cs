// fastai's MNIST tutorial as an ML.NET pipeline: LoadFromImageFolder → TrainTestSplit → MapValueToKey → FastAiCnn →
// MapKeyToValue, Evaluate, Model.Save / Model.Load, PredictionEngine, and the interpretation pictures — on the
// repository's MNIST sample.
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Examples;
using MLNet.FastAi.Pipelines;

var args_ = ExampleArguments.Parse(args);
var clock = Stopwatch.StartNew();
string Out(string name) => Path.Combine(args_.OutputFolder, name);
Directory.CreateDirectory(args_.OutputFolder);

// One call per folder: rows of (ImagePath, Label) from the class subfolders, nothing decoded yet. As fastai's
// valid_pct=0.2, a fifth of training/ is held out for validation; testing/ stays the unseen test set.
var ml = new MLContext(seed: 1);
var split = ml.Data.TrainTestSplit(ml.Data.LoadFromImageFolder(Path.Combine(args_.DataFolder, "training")), testFraction: 0.2, seed: 1);
IDataView train = split.TrainSet;
IDataView test = ml.Data.LoadFromImageFolder(Path.Combine(args_.DataFolder, "testing"));

// The validation rows get their label keys from the same MapValueToKey the pipeline fits on the training rows.
var keyLabels = ml.Transforms.Conversion.MapValueToKey("Label");
IDataView validation = keyLabels.Fit(train).Transform(split.TestSet);

var pipeline = keyLabels
    .Append(ml.MulticlassClassification.Trainers.FastAiCnn(new FastAiCnnOptions
    {
        FeatureColumnName = "ImagePath",
        ValidationSet = validation,
        Epochs = args_.Epochs,
        BatchSize = args_.BatchSize,
        Normalization = NormalizationStats.Mnist,
        Device = args_.Device,
        ShowProgress = true,
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

Console.WriteLine("Training (fastai fine_tune: 1 frozen epoch, then unfrozen)...");
var model = pipeline.Fit(train);

var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"test: micro accuracy {metrics.MicroAccuracy:0.0000}, macro accuracy {metrics.MacroAccuracy:0.0000}, log-loss {metrics.LogLoss:0.0000}");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// Save as a zip of stock ML.NET parts, load it back as an app with no TorchSharp would, predict one image.
string zip = Out("mnist.zip");
ml.Model.Save(model, train.Schema, zip);
var loaded = ml.Model.Load(zip, out var inputSchema);
var reloaded = ml.MulticlassClassification.Evaluate(loaded.Transform(test));
Console.WriteLine($"reloaded {zip}: micro accuracy {reloaded.MicroAccuracy:0.0000}");

var engine = ml.Model.CreatePredictionEngine<ImageSplit.ImageRow, DigitPrediction>(loaded);
string sample = test.GetColumn<string>("ImagePath").First();
var prediction = engine.Predict(new ImageSplit.ImageRow { ImagePath = sample });
Console.WriteLine($"PredictionEngine: {Path.GetFileName(Path.GetDirectoryName(sample))}/{Path.GetFileName(sample)} → {prediction.PredictedLabel} (p={prediction.Score.Max():0.000})");

// Pictures from the loaded model: confusion matrix and top losses, as fastai's ClassificationInterpretation.
// The loaded pipeline starts with the fitted MapValueToKey, so the test rows' text labels become the model's keys.
var interp = MLNetInterpretation.FromModel(loaded, test, imageColumnName: "ImagePath");
interp.PlotConfusionMatrix(Out("confusion_matrix.png"));
interp.PlotTopLosses(Out("top_losses.png"));
Console.WriteLine(interp.ClassificationReport());

Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:0}s. Files in {args_.OutputFolder}:");
foreach (var file in Directory.EnumerateFiles(args_.OutputFolder).Order()) Console.WriteLine("  " + Path.GetFileName(file));

/// <summary>What the PredictionEngine returns: the label text (after MapKeyToValue) and the class probabilities.</summary>
internal sealed class DigitPrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
