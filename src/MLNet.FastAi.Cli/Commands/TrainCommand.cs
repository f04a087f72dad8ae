using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Cli.Training;
using MLNet.FastAi.Recipes;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Interpretation.TensorBoard;

namespace MLNet.FastAi.Cli.Commands;

/// <summary><c>mlnet-fastai train &lt;data&gt;</c>: fastai's vision_learner + fine_tune (or fit_one_cycle, fit), saved as an ML.NET zip.</summary>
internal static class TrainCommand
{
    public static Command Create(CommandRunner runner)
    {
        var data = new TrainingDataOptions();
        var model = new ModelOptions();
        var schedule = Options.Choice(OptionKey.Schedule.Flag!, "fine-tune: --freeze-epochs with the body frozen, then --epochs unfrozen (fastai's fine_tune); " +
                                      "one-cycle: fit_one_cycle; fit: a constant rate. one-cycle and fit train only the head of a pretrained model unless --unfreeze.",
            "fine-tune", "fine-tune", "one-cycle", "fit");
        var epochs = Options.Whole(OptionKey.Epochs, $"Epochs: the unfrozen epochs of fine-tune, all epochs of one-cycle and fit [default: {FitSchedule.DefaultEpochs}].");
        var freezeEpochs = Options.Whole(OptionKey.FreezeEpochs, $"fine-tune: epochs training the head alone before unfreezing [default: {Learner.DefaultFreezeEpochs}].");
        var lr = Options.Number(OptionKey.LearningRate, $"one-cycle: the peak learning rate; fit: the constant rate [default: {new VisionLearnerOptions().LearningRate}]. Try lr-find.");
        var baseLr = Options.Number(OptionKey.BaseLearningRate, $"fine-tune: the base learning rate (fastai's base_lr) [default: {Learner.DefaultBaseLearningRate}].");
        var unfreeze = Options.Flag(OptionKey.Unfreeze, "one-cycle and fit: train every layer of a pretrained model, not only the head.");
        var earlyStopping = Options.OptionalInt(OptionKey.EarlyStopping.Flag!, "Stop a fit when the validation loss has not improved for this many epochs.", 1);
        var tensorBoard = Options.Text("--tensorboard", "Write TensorBoard event files (losses, learning rates, metrics, images) under this folder.", helpName: "dir");
        var output = Options.Text("--out", "The ML.NET model zip to write (loads with stock ML.NET: mlContext.Model.Load).", "model.zip", "file");
        var onnx = Options.Text("--onnx", "Also write the network as a standalone ONNX model (input pixels [batch,3,H,W] RGB 0..255; outputs Score, PredictedIndex, PredictedLabel).", helpName: "file");
        var checkpoint = Options.Text("--checkpoint", "Also save the learner checkpoint (weights, optimizer state, classes, image size, normalization) to this file (.ckpt added when missing); export-onnx reads it.", helpName: "file");
        var int8 = Options.Flag(OptionKey.Int8, "Save the network (--out, --onnx) in int8: about a quarter of the size and twice as fast to serve on CPUs with int8 dot products. " +
            "Calibrated on training images, then checked against float32 on the validation set; if it loses more than one point, float32 is saved instead, with a warning.");
        var report = Options.Text("--report", "Write a self-contained HTML training report (epoch table, loss, schedule and metric plots, confusion matrix, top losses).", helpName: "file.html");

        var mixing = new RecipeFlags<TrainingRecipe>();
        mixing.OptionalNumber(OptionKey.MixUp, "Train with fastai's MixUp: images and targets blended in pairs, at this alpha [default: 0.4].", 0.4, (r, alpha) => r with { MixUp = alpha });
        mixing.OptionalNumber(OptionKey.CutMix, "Train with fastai's CutMix: a rectangle of another image pasted in, at this alpha [default: 1].", 1.0, (r, alpha) => r with { CutMix = alpha });

        var command = new Command("train",
            "Train an image classifier the fastai way (pretrained ResNet, fine_tune) on a folder of class subfolders or a CSV file, " +
            "print the epoch table and the validation accuracy, and save an ML.NET model zip.");
        data.AddTo(command);
        model.AddTo(command);
        foreach (var option in new Option[] { schedule, epochs, freezeEpochs, lr, baseLr, unfreeze, earlyStopping, tensorBoard, output, onnx, int8, checkpoint, report })
            command.Add(option);
        mixing.AddTo(command);

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            var recipe = new TrainingRecipe
            {
                Data = data.Build(parse),
                Model = model.Build(parse),
                Schedule = new FitSchedule
                {
                    Kind = parse.GetValue(schedule) switch { "one-cycle" => TrainingSchedule.OneCycle, "fit" => TrainingSchedule.Constant, _ => TrainingSchedule.FineTune },
                    Epochs = parse.GetValue(epochs) ?? FitSchedule.DefaultEpochs,
                    FreezeEpochs = parse.GetValue(freezeEpochs),
                    BaseLearningRate = parse.GetValue(baseLr),
                    LearningRate = parse.GetValue(lr),
                    Unfreeze = parse.WasGiven(unfreeze) ? parse.GetValue(unfreeze) : null,
                },
            }.Seeded(parse.GetValue(data.Seed));
            recipe = mixing.Apply(recipe, parse);
            recipe.Validate();
            string modelPath = InputPaths.PrepareOutputFile(parse.GetValue(output)!);
            string? onnxPath = parse.GetValue(onnx) is { } o ? InputPaths.PrepareOutputFile(o) : null;
            string? reportPath = parse.GetValue(report) is { } r ? InputPaths.PrepareOutputFile(r) : null;
            string? checkpointPath = parse.GetValue(checkpoint) is { } c ? InputPaths.PrepareOutputFile(c.EndsWith(".ckpt", StringComparison.Ordinal) ? c : c + ".ckpt") : null;

            var clock = Stopwatch.StartNew();
            using var loaders = data.Load(parse, console, recipe);
            var history = new TrainingHistory();
            var callbacks = new List<Callback> { new ProgressCallback(console.Out, live: false), history };
            if (parse.GetValue(earlyStopping) is { } patience) callbacks.Add(new EarlyStoppingCallback(patience: patience));
            TensorBoardCallback? board = parse.GetValue(tensorBoard) is { } dir ? new TensorBoardCallback(InputPaths.PrepareOutputDirectory(dir)) : null;
            if (board is not null) callbacks.Add(board);
            if (checkpointPath is not null) recipe = recipe with { Model = recipe.Model with { ModelDirectory = Path.GetDirectoryName(checkpointPath)! } };

            using var learner = recipe.NewLearner(loaders, callbacks, null);
            console.WriteLine($"Model: {recipe.Model.Architecture.Name}, {Describe(recipe.Model)}; device {learner.Device.type}; normalization {learner.Normalization}.");
            if (board is not null) console.WriteLine($"TensorBoard logs: {InputPaths.Display(board.LogDirectory)}");
            string scheduleText = recipe.Schedule.Describe(recipe.Model);
            recipe.Train(learner, CancellationToken.None);
            clock.Stop();

            var (validLoss, validMetrics) = learner.Validate();
            double accuracy = validMetrics["accuracy"];
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Validation accuracy: {accuracy:0.0000} (loss {validLoss:0.0000}, {loaders.Valid.Count} images; trained in {clock.Elapsed.TotalSeconds:0.0} s)"));
            if (loaders.Test is { IsLabeled: true } testSplit)
            {
                var (testLoss, testMetrics) = learner.Validate(testSplit);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Test accuracy: {testMetrics["accuracy"]:0.0000} (loss {testLoss:0.0000}, {testSplit.Count} images)"));
            }

            bool inInt8 = parse.GetValue(int8) && SavedInInt8(console, () => learner.SaveMLNetModel(new MLContext(recipe.Data.Seed), modelPath, int8: true));
            if (!inInt8) learner.SaveMLNetModel(new MLContext(recipe.Data.Seed), modelPath);
            string precision = inInt8 ? " (int8)" : "";
            console.WriteLine($"Saved the ML.NET model{precision}: {InputPaths.Display(modelPath)}");
            if (onnxPath is not null) console.WriteLine($"Saved the ONNX model{precision}: {InputPaths.Display(learner.ExportOnnx(onnxPath, inInt8))}");
            if (checkpointPath is not null) console.WriteLine($"Saved the checkpoint: {InputPaths.Display(learner.Save(Path.GetFileName(checkpointPath)))}");
            if (reportPath is not null)
            {
                string dataset = Path.GetFullPath(parse.GetValue(data.Data)!);
                TrainingReport.Build(learner, ClassificationInterpretation.FromLearner(learner),
                    $"Training report: {recipe.Model.Architecture.Name} on {Path.GetFileName(dataset.TrimEnd(Path.DirectorySeparatorChar))}",
                    new TrainingReport.Run(dataset, scheduleText, clock.Elapsed, history)).Save(reportPath);
                console.WriteLine($"Saved the training report: {InputPaths.Display(reportPath)}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Saves in int8; when the accuracy guard refuses it, warns with the figures and leaves float32 to the caller (training is never lost).</summary>
    private static bool SavedInInt8(CliConsole console, Action save)
    {
        try
        {
            save();
            return true;
        }
        catch (OptionException refused) when (refused.Option == OptionKey.Int8)
        {
            console.Warn($"{refused.Message} Saving float32 instead.");
            return false;
        }
    }

    private static string Describe(VisionLearnerOptions options) => options.Pretrained switch
    {
        PretrainedSource.MLNetImageNet => "pretrained on ImageNet (ML.NET's ResNet-18 weights)",
        PretrainedSource.File => $"pretrained weights from {InputPaths.Display(options.WeightsFile!)}",
        _ => "random initial weights",
    };
}
