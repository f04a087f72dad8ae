using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Cli.Scoring;

namespace MLNet.FastAi.Cli.Commands;

/// <summary><c>mlnet-fastai predict &lt;model.zip&gt; &lt;images...&gt;</c>: the predicted class of each image, as a table or JSON.</summary>
internal static class PredictCommand
{
    public static Command Create(CommandRunner runner)
    {
        var model = new Argument<string>("model") { Description = "The ML.NET model zip (from train --out)." };
        var images = new Argument<string[]>("images")
        {
            Description = "Image files, or folders searched recursively for images.",
            Arity = ArgumentArity.OneOrMore,
        };
        var json = Options.Flag("--json", "Print a JSON array of {file, label, probability, scores: {class: probability}} instead of a table.");
        var maxPixels = Options.MaxImagePixels();
        var top = Options.OptionalInt("--top", "Show the k most probable classes of each image (table: extra columns; JSON: scores holds only those) [default: table 1, JSON all].", 1);

        var command = new Command("predict",
            "Predict the class of images with a saved model, loaded with plain ML.NET. Prints file, predicted label and probability.")
        {
            model, images, json, top, maxPixels,
        };

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            // An unknown option lands among the image paths (the argument takes any number); say what it is.
            var paths = parse.GetValue(images)!;
            if (paths.FirstOrDefault(p => p.StartsWith('-') && !Path.Exists(p)) is { } unknown)
                throw CliException.Usage($"Unrecognized option '{unknown}'; run 'mlnet-fastai predict --help' for the options.");
            using var stock = StockModel.Load(parse.GetValue(model)!);
            var files = InputPaths.ExpandImages(paths);
            InputPaths.RequireDecodableImages(files, parse.GetValue(maxPixels));
            var scores = stock.Score(files);
            int? k = parse.GetValue(top) is { } t ? Math.Min(t, stock.Classes.Count) : null;
            var predictions = files.Select((file, i) => Rank(InputPaths.Display(file), scores[i], stock.Classes)).ToList();
            if (parse.GetValue(json)) WriteJson(console.Out, predictions, k ?? stock.Classes.Count);
            else WriteTable(console.Out, predictions, k ?? 1);
            return ExitCodes.Success;
        });
        return command;
    }

    private sealed record Prediction(string File, IReadOnlyList<(string Label, float Probability)> Ranked);

    private static Prediction Rank(string file, float[] scores, IReadOnlyList<string> classes) =>
        new(file, scores.Select((p, c) => (classes[c], p)).OrderByDescending(s => s.p).ThenBy(s => s.Item1, StringComparer.Ordinal).ToList());

    private static void WriteTable(TextWriter output, IReadOnlyList<Prediction> predictions, int k)
    {
        int width = Math.Max("file".Length, predictions.Max(p => p.File.Length)) + 2;
        int labelWidth = Math.Max("label".Length, predictions.Max(p => p.Ranked[0].Label.Length)) + 2;
        string header = "file".PadRight(width) + "label".PadRight(labelWidth) + "probability";
        for (int i = 2; i <= k; i++) header += $"  #{i}";
        output.WriteLine(header);
        foreach (var p in predictions)
        {
            string line = p.File.PadRight(width) + p.Ranked[0].Label.PadRight(labelWidth) + p.Ranked[0].Probability.ToString("0.0000", CultureInfo.InvariantCulture).PadLeft("probability".Length);
            for (int i = 1; i < k; i++) line += string.Create(CultureInfo.InvariantCulture, $"  {p.Ranked[i].Label} ({p.Ranked[i].Probability:0.0000})");
            output.WriteLine(line);
        }
    }

    private static void WriteJson(TextWriter output, IReadOnlyList<Prediction> predictions, int k)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartArray();
            foreach (var p in predictions)
            {
                writer.WriteStartObject();
                writer.WriteString("file", p.File);
                writer.WriteString("label", p.Ranked[0].Label);
                writer.WriteNumber("probability", p.Ranked[0].Probability);
                writer.WriteStartObject("scores");
                foreach (var (label, probability) in p.Ranked.Take(k)) writer.WriteNumber(label, probability);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
