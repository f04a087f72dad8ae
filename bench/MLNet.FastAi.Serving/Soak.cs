using System.Diagnostics;

namespace MLNet.FastAi.Serving;

/// <summary>A memory sample after <c>Predictions</c> single predictions.</summary>
internal sealed record MemoryPoint(long Predictions, double Seconds, double RssMiB, double AnonMiB, double ManagedMiB);

/// <summary>
/// Many single predictions, as a service answers requests, with resident memory sampled along the way: growth that
/// stops is warm-up (allocator arenas, ONNX Runtime's buffers, the JIT), growth that goes on is a leak.
/// </summary>
internal static class Soak
{
    public static List<MemoryPoint> OneEngine(ServedModel model, IReadOnlyList<string> images, int predictions)
    {
        Console.WriteLine($"soak, one engine, {predictions:N0} predictions:");
        var points = new List<MemoryPoint>();
        var clock = Stopwatch.StartNew();
        using var engine = model.NewEngine(images[0]);
        var marks = Marks(predictions);
        Record(points, 0, clock);
        for (int i = 1; i <= predictions; i++)
        {
            engine.Predict(new ImageRow { ImagePath = images[i % images.Count] });
            if (marks.Contains(i)) Record(points, i, clock);
        }
        Summarize(points);
        return points;
    }

    /// <summary>The same number of predictions spread over <paramref name="threads"/> threads, each with its own engine.</summary>
    public static List<MemoryPoint> Threads(ServedModel model, IReadOnlyList<string> images, int predictions, int threads)
    {
        Console.WriteLine($"soak, {threads} threads each with its own engine, {predictions:N0} predictions in all:");
        var points = new List<MemoryPoint>();
        var clock = Stopwatch.StartNew();
        long done = 0;
        Record(points, 0, clock);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            using var engine = model.NewEngine(images[0]);
            for (int i = t; i < predictions; i += threads)
            {
                engine.Predict(new ImageRow { ImagePath = images[i % images.Count] });
                Interlocked.Increment(ref done);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        var marks = Marks(predictions).Order().ToList();
        foreach (var mark in marks)
        {
            while (Interlocked.Read(ref done) < mark && workers.Any(w => w.IsAlive)) Thread.Sleep(20);
            Record(points, Interlocked.Read(ref done), clock);
        }
        workers.ForEach(w => w.Join());
        Summarize(points);
        Console.WriteLine($"  {predictions / clock.Elapsed.TotalSeconds:0.0} predictions/s on {threads} threads");
        return points;
    }

    /// <summary>Dense early (where warm-up shows), then every tenth of the run.</summary>
    private static HashSet<int> Marks(int predictions) =>
        new[] { 10, 50, 100, 200, 500, 1000, 2000 }.Concat(Enumerable.Range(1, 10).Select(k => predictions * k / 10))
            .Where(m => m > 0 && m <= predictions).ToHashSet();

    private static void Record(List<MemoryPoint> points, long predictions, Stopwatch clock)
    {
        var now = Memory.Now();
        points.Add(new MemoryPoint(predictions, clock.Elapsed.TotalSeconds, now.RssMiB, now.AnonMiB, now.ManagedMiB));
        Console.WriteLine($"  {predictions,8:N0} predictions, {clock.Elapsed.TotalSeconds,7:0.0} s: {now}");
    }

    /// <summary>Growth over the run's second half, per thousand predictions: what a leak would keep adding.</summary>
    private static void Summarize(List<MemoryPoint> points)
    {
        var last = points[^1];
        var half = points.Where(p => p.Predictions <= last.Predictions / 2).MaxBy(p => p.Predictions)!;
        double thousands = (last.Predictions - half.Predictions) / 1000.0;
        if (thousands <= 0) return;
        Console.WriteLine($"  second half ({half.Predictions:N0} -> {last.Predictions:N0}): RSS {(last.RssMiB - half.RssMiB) / thousands:+0.00;-0.00} MiB, " +
            $"managed {(last.ManagedMiB - half.ManagedMiB) / thousands:+0.00;-0.00} MiB per 1,000 predictions; peak RSS {points.Max(p => p.RssMiB):0} MiB");
    }
}
