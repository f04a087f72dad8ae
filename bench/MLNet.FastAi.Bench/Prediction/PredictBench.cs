using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Bench.Training;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Bench.Prediction;

/// <summary>
/// <c>predict</c>: a saved ML.NET zip loaded with <c>mlContext.Model.Load</c>, scored in one batch Transform and image
/// by image through a PredictionEngine, next to the learner's own TorchSharp predictions on the same images.
/// </summary>
internal static class PredictBench
{
    public static int Run(BenchArgs args, BenchReport report)
    {
        string? modelPath = args.Text("model");
        string? savePath = args.Text("save");
        int repeats = args.Int("repeats", 3);
        int limit = args.Int("limit", int.MaxValue);
        int latencyLimit = args.Int("latency-images", 200);
        bool int8 = args.Flag("int8");
        var settings = TrainSettings.Read(args, defaultEpochs: 1);
        args.RejectUnknown();
        settings.Record(report);
        report.Setting("repeats", repeats);
        report.Setting("limit", limit == int.MaxValue ? JsonValue.Create("all") : JsonValue.Create(limit));
        report.Setting("latencyImages", latencyLimit);

        using var data = settings.LoadData();
        using var learner = settings.NewLearner(data);
        BenchDevice.Describe(report, learner.Device);
        bool trainedHere = modelPath is null;
        string? int8Path = null;
        if (trainedHere)
        {
            report.Section($"No --model: training {settings.Epochs} epoch(s) and saving the ML.NET zip");
            learner.Unfreeze();
            learner.Fit(settings.Epochs, settings.LearningRate);
            modelPath = learner.SaveMLNetModel(new MLContext(seed: 0), savePath ?? Path.Combine(Path.GetTempPath(), $"mlnet-fastai-bench-{Environment.ProcessId}.zip"));
            report.Note($"model trained here ({settings.Epochs} epoch(s), validation accuracy {learner.MetricValues.GetValueOrDefault("accuracy", double.NaN):P1}) and saved to {modelPath}{(savePath is null ? " (deleted at the end; --save keeps it)" : "")}");
            if (int8)
            {
                int8Path = learner.SaveMLNetModel(new MLContext(seed: 0), Path.ChangeExtension(modelPath, ".int8.zip"), int8: true);
                report.Note($"int8 zip {int8Path}: {new FileInfo(int8Path).Length / 1e6:0.0} MB against {new FileInfo(modelPath).Length / 1e6:0.0} MB");
            }
        }
        else
        {
            modelPath = Path.GetFullPath(modelPath!);
            if (!File.Exists(modelPath)) throw new UsageException($"The model file '{modelPath}' does not exist.");
            report.Note("the TorchSharp figures use an untrained learner of the same architecture: throughput does not depend on the weights");
        }
        report.Setting("model", modelPath);
        var paths = BenchData.AllPaths(data).Take(limit).ToList();
        report.Setting("images", paths.Count);
        report.PrintSettings();

        var mlnetLabels = MeasureZip(report, modelPath, paths, repeats);
        if (int8Path is not null)
        {
            var int8Labels = MeasureZip(report, int8Path, paths, repeats);
            report.Figure("int8 and float32 zips agree on the label", 100.0 * int8Labels.Zip(mlnetLabels).Count(p => p.First == p.Second) / paths.Count, "%");
        }

        report.Section($"TorchSharp (Learner) on {paths.Count} images, {learner.Device}");
        PredictionSet? preds = null;
        var withDecode = Measure.Repeat(1, repeats, () =>
        {
            var split = data.TestSplit(paths);
            preds = learner.GetPreds(split);
            // Each run decodes a split of its own; the loaders would otherwise keep every one of them.
            data.Release(split);
        });
        report.Figure("Learner.GetPreds, decode included", paths.Count / (withDecode.MedianMs / 1000), "images/s");
        var cachedSplit = data.TestSplit(paths);
        var cached = Measure.Repeat(1, repeats, () => learner.GetPreds(cachedSplit), () => BenchDevice.Synchronize(learner.Device));
        report.Figure("Learner.GetPreds on the decoded cache", paths.Count / (cached.MedianMs / 1000), "images/s");

        var latencyPaths = paths.Take(latencyLimit).ToList();
        foreach (var p in latencyPaths.Take(3)) learner.Predict(p);
        var single = latencyPaths.Select(p => Measure.Once(() => learner.Predict(p))).ToList();
        var singleTiming = new Timing(single);
        report.Figure($"Learner.Predict latency, median ({latencyPaths.Count} images)", singleTiming.MedianMs, "ms");
        report.Figure("Learner.Predict latency, p95", singleTiming.P95Ms, "ms");

        if (trainedHere && preds is not null)
        {
            int agree = Enumerable.Range(0, preds.Count).Count(i => preds.PredictedLabel(i) == mlnetLabels[i]);
            report.Figure("ML.NET zip and Learner agree on the label", 100.0 * agree / preds.Count, "%");
        }
        if (trainedHere && savePath is null) File.Delete(modelPath);
        return 0;
    }

    /// <summary>A zip's batch Transform and PredictionEngine figures; returns its labels of the images.</summary>
    private static string[] MeasureZip(BenchReport report, string modelPath, List<string> paths, int repeats)
    {
        report.Section($"ML.NET zip ({Path.GetFileName(modelPath)}) on {paths.Count} images");
        var context = new MLContext(seed: 0);
        var model = context.Model.Load(modelPath, out var inputSchema);
        string column = inputSchema.Count == 1 ? inputSchema[0].Name
            : throw new InvalidDataException($"The model '{modelPath}' expects {inputSchema.Count} input columns; this benchmark feeds one column of image paths.");
        var definition = SchemaDefinition.Create(typeof(ImageRow));
        definition[0].ColumnName = column;
        var rows = paths.Select(p => new ImageRow { ImagePath = p }).ToList();

        string[] mlnetLabels = Array.Empty<string>();
        var batch = Measure.Repeat(1, repeats, () => mlnetLabels = ScoreAll(context, model, rows, definition));
        report.Figure("ML.NET batch Transform", paths.Count / (batch.MedianMs / 1000), "images/s",
            new JsonObject { ["medianMs"] = BenchReport.Round(batch.MedianMs), ["minMs"] = BenchReport.Round(batch.MinMs) },
            $"best {BenchReport.Format(paths.Count / (batch.MinMs / 1000))} images/s");

        var withNames = model.Append(context.Transforms.Conversion.MapKeyToValue("PredictedLabel")
            .Fit(model.Transform(context.Data.LoadFromEnumerable(rows.Take(1), definition))));
        using (var engine = context.Model.CreatePredictionEngine<ImageRow, ScoredRow>(withNames, inputSchemaDefinition: definition))
        {
            foreach (var row in rows.Take(10)) engine.Predict(row);
            var latencies = new double[rows.Count];
            long all = Stopwatch.GetTimestamp();
            for (int i = 0; i < rows.Count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                engine.Predict(rows[i]);
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            double totalSeconds = Stopwatch.GetElapsedTime(all).TotalSeconds;
            var timing = new Timing(latencies);
            report.Figure("ML.NET PredictionEngine, image by image", rows.Count / totalSeconds, "images/s");
            report.Figure("ML.NET PredictionEngine latency, median", timing.MedianMs, "ms");
            report.Figure("ML.NET PredictionEngine latency, p95", timing.P95Ms, "ms");
        report.Figure("ML.NET PredictionEngine latency, p99", latencies.Order().ElementAt((int)Math.Min(latencies.Length - 1, Math.Ceiling(0.99 * latencies.Length) - 1)), "ms");
        }
        return mlnetLabels;
    }

    private static string[] ScoreAll(MLContext context, ITransformer model, List<ImageRow> rows, SchemaDefinition definition)
    {
        var scored = model.Transform(context.Data.LoadFromEnumerable(rows, definition));
        var labels = context.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
        return labels.GetColumn<string>("PredictedLabel").ToArray();
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class ScoredRow
    {
        public string PredictedLabel { get; set; } = "";

        public float[] Score { get; set; } = [];
    }
}
