using System.CommandLine;
using System.Globalization;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Cli.Scoring;
using MLNet.FastAi.Interpretation.Plots;

namespace MLNet.FastAi.Cli.Commands;

/// <summary><c>mlnet-fastai evaluate &lt;model.zip&gt; &lt;data&gt;</c>: ML.NET's multiclass metrics of a saved model on labelled images.</summary>
internal static class EvaluateCommand
{
    public static Command Create(CommandRunner runner)
    {
        var model = new Argument<string>("model") { Description = "The ML.NET model zip (from train --out)." };
        var data = new LabelledImageOptions();
        var reportDir = Options.Text("--report-dir", $"Also write {InterpretationPictures.ConfusionMatrixFile}, {InterpretationPictures.TopLossesFile} and {InterpretationPictures.ClassificationReportFile} into this folder.", helpName: "dir");
        var html = Options.Flag("--html", $"With --report-dir: also write {InterpretationPictures.HtmlFile}, a self-contained HTML page of the results.");
        var topLosses = Options.Int("--top-losses", "Images shown in the top-losses picture.", 9, 1, 1000);

        var command = new Command("evaluate",
            "Evaluate a saved model on labelled images with plain ML.NET (mlContext.Model.Load, MulticlassClassification.Evaluate): " +
            "accuracy, log-loss, the confusion matrix and the classification report. Labels the model does not know are refused.")
        {
            model,
        };
        data.AddTo(command);
        foreach (var option in new Option[] { reportDir, html, topLosses }) command.Add(option);

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            if (parse.GetValue(html) && parse.GetValue(reportDir) is null) throw CliException.Usage("--html needs --report-dir.");
            using var stock = StockModel.Load(parse.GetValue(model)!);
            var images = data.Read(parse);
            string? folder = parse.GetValue(reportDir) is { } dir ? InputPaths.PrepareOutputDirectory(dir) : null;
            console.WriteLine($"Model: {InputPaths.Display(stock.FilePath)} ({stock.Classes.Count} classes); {images.Count} labelled images.");

            var evaluation = Evaluation.Run(stock, images);
            var metrics = evaluation.Metrics;
            int correct = evaluation.Interpretation.Targets.Where((t, i) => t == evaluation.Interpretation.Predicted[i]).Count();
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Accuracy: {metrics.MicroAccuracy:0.0000} ({correct}/{images.Count})"));
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Macro accuracy: {metrics.MacroAccuracy:0.0000}"));
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Log-loss: {metrics.LogLoss:0.0000}"));
            console.WriteLine();
            console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
            console.WriteLine("Classification report:");
            var pictures = new InterpretationPictures(evaluation.Interpretation, parse.GetValue(topLosses));
            console.WriteLine(pictures.ReportText());

            if (folder is not null)
            {
                var files = pictures.WriteFiles(folder);
                if (parse.GetValue(html))
                {
                    var report = new HtmlReport($"Evaluation of {Path.GetFileName(stock.FilePath)}");
                    report.AddParagraph(string.Create(CultureInfo.InvariantCulture,
                        $"{stock.FilePath} on {Path.GetFullPath(parse.GetValue(data.Data)!)}: accuracy {metrics.MicroAccuracy:0.0000}, macro accuracy {metrics.MacroAccuracy:0.0000}, log-loss {metrics.LogLoss:0.0000}."));
                    pictures.AddTo(report);
                    files.Add(report.Save(Path.Combine(folder, InterpretationPictures.HtmlFile)));
                }
                foreach (var file in files) console.WriteLine($"Wrote {InputPaths.Display(file)}");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
