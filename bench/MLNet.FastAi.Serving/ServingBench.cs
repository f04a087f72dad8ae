using System.Diagnostics;
using System.Text.Json;

namespace MLNet.FastAi.Serving;

/// <summary>The serving figures of each zip: cold start, latency, batch throughput, memory over a long run.</summary>
internal static class ServingBench
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    public static int Run(ServingArgs args)
    {
        var images = Directory.EnumerateFiles(args.Images, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).Take(args.Limit).ToList();
        if (images.Count == 0) throw new UsageException($"no images under '{args.Images}'.");
        Console.WriteLine($"{images.Count} images from {args.Images}; {Environment.ProcessorCount} processors; ONNX Runtime from the zips' OnnxTransformer");
        var figures = new Dictionary<string, object>();

        if (args.ColdRuns > 0)
        {
            Console.WriteLine($"\n## Process start -> first prediction ({args.ColdRuns} fresh processes per zip, alternated)");
            foreach (var (model, runs) in ColdStart.Measure(args.Models, images[0], args.ColdRuns))
            {
                string Range(Func<ColdTimings, double> pick) => $"{Median(runs.Select(pick)):0.00} s ({runs.Min(pick):0.00}-{runs.Max(pick):0.00})";
                Console.WriteLine($"{Name(model)}: first prediction {Range(t => t.FirstPrediction)}; Main {Range(t => t.Main)}; Model.Load {Range(t => t.LoadSeconds)}; engine ready {Range(t => t.EngineReady)}");
                figures[$"{Name(model)} cold"] = runs;
            }
        }

        var labels = new List<string[]>();
        foreach (var path in args.Models)
        {
            Console.WriteLine($"\n## {Name(path)} ({new FileInfo(path).Length / 1e6:0.0} MB)");
            var model = ServedModel.Load(path);
            labels.Add(model.ScoreAll(images.Take(10).ToList()));
            var batch = Enumerable.Range(0, 2).Select(_ => Seconds(() => labels[^1] = model.ScoreAll(images))).ToList();
            Console.WriteLine($"batch Transform: {images.Count / batch.Min():0.0} images/s (runs: {string.Join(", ", batch.Select(s => $"{images.Count / s:0.0}"))})");

            using (var engine = model.NewEngine(images[0]))
            {
                foreach (var image in images.Take(10)) engine.Predict(new ImageRow { ImagePath = image });
                var latencies = images.Select(image => 1000 * Seconds(() => engine.Predict(new ImageRow { ImagePath = image }))).Order().ToArray();
                Console.WriteLine($"PredictionEngine latency: median {Quantile(latencies, 0.5):0.0} ms, p99 {Quantile(latencies, 0.99):0.0} ms ({latencies.Length} images)");
                figures[$"{Name(path)} latency"] = new { median = Quantile(latencies, 0.5), p99 = Quantile(latencies, 0.99), batch = images.Count / batch.Min() };
            }
            if (args.Soak > 0)
            {
                figures[$"{Name(path)} soak"] = Soak.OneEngine(model, images, args.Soak);
                figures[$"{Name(path)} soak threads"] = Soak.Threads(model, images, args.Soak, args.Threads);
            }
        }
        if (labels.Count > 1)
            Console.WriteLine($"\nlabels the same as {Name(args.Models[0])}: {string.Join(", ", args.Models.Skip(1).Select((m, i) => $"{Name(m)} {100.0 * labels[i + 1].Zip(labels[0]).Count(p => p.First == p.Second) / images.Count:0.0}%"))}");
        if (args.Json is not null) File.WriteAllText(args.Json, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    internal static string Name(string path) => Path.GetFileName(path);

    internal static double Seconds(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(IEnumerable<double> values) => Quantile(values.Order().ToArray(), 0.5);

    /// <summary>Nearest rank of sorted <paramref name="sorted"/>.</summary>
    internal static double Quantile(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
