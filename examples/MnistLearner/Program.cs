// fastai's MNIST tutorial in C#, Learner style. Runs on the repository's real MNIST sample by default
// (a couple of minutes on two CPU cores); --full downloads all of MNIST, --device cuda trains on a GPU.
using System.Diagnostics;
using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Examples;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Interpretation.TensorBoard;

var args_ = ExampleArguments.Parse(args);
var clock = Stopwatch.StartNew();
string Out(string name) => Path.Combine(args_.OutputFolder, name);
Directory.CreateDirectory(args_.OutputFolder);
Console.WriteLine(TorchRuntime.Describe());

// 1. Data: fastai's `ImageDataBunch.from_folder(path, train="training", test="testing", valid_pct=0.2).normalize(mnist_stats)`.
//    The test folder stays apart; 20% of the training folder is held out for validation.
using var data = ImageDataLoaders.FromFolder(args_.DataFolder, train: "training", valid: null, validPct: 0.2, test: "testing",
        options: new ImageDataOptions { BatchSize = args_.BatchSize, Seed = 42 })
    .Normalize(NormalizationStats.Mnist);
Console.WriteLine($"Data: {data.Train.Count} training, {data.Valid.Count} validation, {data.Test!.Count} test images; " +
                  $"classes {string.Join(" ", data.Classes)}; {data.Pipeline}");
data.ShowBatch(Out("show_batch.png"));

// 2. `cnn_learner(data, models.resnet18, metrics=accuracy)`: ImageNet ResNet-18 body (offline, from ML.NET's
//    featurizer package), fastai's head, body frozen.
using var learn = Learner.Vision(data, new VisionLearnerOptions
{
    Metrics = new Func<Metric>[] { ClassificationMetrics.Accuracy, ClassificationMetrics.ErrorRate },
    Device = args_.Device,
    ModelDirectory = Out("models"),
    Seed = 42,
});
learn.AddCallback(new TensorBoardCallback(Out("runs"), "mnist"))
     .AddCallback(new CsvLoggerCallback(Out("history.csv")));
Console.WriteLine($"Learner: {learn.Options.Architecture} on {learn.Device}, {learn.TrainableParameterNames.Count} trainable tensors while frozen");

// 3. The blog: `learn.fit(5, 1e-3)` with the body frozen, then `learn.save('stage-1')`.
learn.Fit(5, 1e-3);
learn.Save("stage-1");
learn.Recorder.PlotLoss(Out("losses_stage1.png"));

// 4. Beyond the blog: find a learning rate, then fastai's fine_tune (one more frozen epoch, then unfrozen).
var lrFind = learn.LrFind(suggestions: new[] { "valley", "minimum", "steep", "slide" });
lrFind.Plot(Out("lr_find.png"));
Console.WriteLine("lr_find: " + string.Join(", ", lrFind.Suggestions.Select(s => $"{s.Name} {s.LearningRate:0.00e+00}")));
learn.FineTune(args_.Epochs, baseLr: 2e-3);
learn.Save("stage-2");
learn.Recorder.PlotLoss(Out("losses.png"));
learn.Recorder.PlotSchedule(Out("lr_schedule.png"));
learn.Recorder.PlotMetrics(Out("metrics.png"));

// 5. Predictions: one image, then every split.
string image = data.Test.Paths[0];
var one = learn.Predict(image);
Console.WriteLine($"predict {Path.GetRelativePath(args_.DataFolder, image)}: {one.Label} (p={one.Probabilities[one.Index]:0.000})");
var train = learn.GetPreds(data.Train);
var valid = learn.GetPreds(data.Valid);
var test = learn.GetPreds(data.Test);
var tta = learn.Tta(data.Test, augmentation: new MLNet.FastAi.Data.Augmentation.AugmentationOptions { DoFlip = false });
Console.WriteLine($"accuracy: train {train.Accuracy:0.0000}, valid {valid.Accuracy:0.0000}, test {test.Accuracy:0.0000}, test with TTA {tta.Accuracy:0.0000}");

// 6. Interpretation on the test set: confusion matrix, most confused, top losses, classification report.
var interp = ClassificationInterpretation.FromLearner(learn, data.Test);
interp.PlotConfusionMatrix(Out("confusion_matrix.png"));
interp.PlotTopLosses(Out("top_losses.png"));
learn.ShowResults(Out("results.png"), split: data.Test);
Console.WriteLine(interp.ClassificationReport());
Console.WriteLine("most confused: " + string.Join("; ", interp.MostConfused(2).Take(5).Select(p => $"{p.Actual}→{p.Predicted} ×{p.Count}")));
TrainingReport.Write(learn, Out("report.html"), interp, "MNIST with MLNet.FastAi");

// 7. Deploy: an ML.NET zip of stock components (ImageAnalytics + ONNX Runtime). LoadChecked verifies the zip's CRCs
//    before ML.NET loads it; plain ml.Model.Load works too, in an app without this package.
var ml = new MLContext(seed: 1);
string zip = learn.SaveMLNetModel(ml, Out("mnist.zip"));
var loaded = ml.Model.LoadChecked(zip, out _);
var metrics = ml.MulticlassClassification.Evaluate(loaded.Transform(data.Test.ToDataView(ml, labelAsKey: true)));
Console.WriteLine($"reloaded ML.NET zip ({new FileInfo(zip).Length / 1e6:0.0} MB): test accuracy {metrics.MicroAccuracy:0.0000}, log-loss {metrics.LogLoss:0.0000}");
learn.ExportOnnx(Out("mnist.onnx"));

Console.WriteLine($"\nDone in {clock.Elapsed.TotalSeconds:0}s. Files in {args_.OutputFolder}:");
foreach (var file in Directory.EnumerateFiles(args_.OutputFolder, "*", SearchOption.AllDirectories).Order())
    Console.WriteLine("  " + Path.GetRelativePath(args_.OutputFolder, file));
