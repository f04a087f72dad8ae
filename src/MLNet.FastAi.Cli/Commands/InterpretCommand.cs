using System.CommandLine;
using System.Globalization;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Cli.Scoring;
using MLNet.FastAi.Interpretation.Plots;

namespace MLNet.FastAi.Cli.Commands;

/// <summary><c>mlnet-fastai interpret &lt;model.zip&gt; &lt;data&gt; --out &lt;dir&gt;</c>: fastai's ClassificationInterpretation as pictures and a report.</summary>
internal static class InterpretCommand
{
    public static Command Create(CommandRunner runner)
    {
        var model = new Argument<string>("model") { Description = "The ML.NET model zip (from train --out)." };
        var data = new LabelledImageOptions();
        var output = Options.Text("--out", "The folder to write the pictures and the report into (created when missing).", helpName: "dir");
        output.Required = true;
        var topLosses = Options.Int("--top-losses", "Images shown in the top-losses picture.", 9, 1, 1000);

        var command = new Command("interpret",
            "Show what a saved model gets wrong on labelled images (fastai's ClassificationInterpretation): writes " +
            $"{InterpretationPictures.ConfusionMatrixFile}, {InterpretationPictures.TopLossesFile}, {InterpretationPictures.ClassificationReportFile} " +
            $"and {InterpretationPictures.HtmlFile} into --out, and prints the most confused classes.")
        {
            model,
        };
        data.AddTo(command);
        command.Add(output);
        command.Add(topLosses);

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            using var stock = StockModel.Load(parse.GetValue(model)!);
            var images = data.Read(parse);
            string folder = InputPaths.PrepareOutputDirectory(parse.GetValue(output)!);

            var evaluation = Evaluation.Run(stock, images);
            var pictures = new InterpretationPictures(evaluation.Interpretation, parse.GetValue(topLosses));
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Model: {InputPaths.Display(stock.FilePath)}; accuracy {evaluation.Interpretation.Accuracy:0.0000} on {images.Count} images."));
            var confused = evaluation.Interpretation.MostConfused();
            console.WriteLine(confused.Count == 0 ? "No class was confused with another." : "Most confused (actual -> predicted: count):");
            foreach (var pair in confused.Take(10)) console.WriteLine($"  {pair.Actual} -> {pair.Predicted}: {pair.Count}");
            console.WriteLine("Top losses (predicted/actual, loss, probability, file):");
            foreach (var loss in evaluation.Interpretation.TopLosses(Math.Min(parse.GetValue(topLosses), images.Count)))
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {loss.Predicted}/{loss.Actual}  {loss.Loss:0.00}  {loss.Probability:0.00}  {InputPaths.Display(loss.ImagePath!)}"));

            var files = pictures.WriteFiles(folder);
            var report = new HtmlReport($"Interpretation of {Path.GetFileName(stock.FilePath)}");
            report.AddParagraph($"{stock.FilePath} on {Path.GetFullPath(parse.GetValue(data.Data)!)}.");
            pictures.AddTo(report);
            files.Add(report.Save(Path.Combine(folder, InterpretationPictures.HtmlFile)));
            foreach (var file in files) console.WriteLine($"Wrote {InputPaths.Display(file)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
