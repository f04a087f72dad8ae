using Microsoft.ML;
using Xunit.Abstractions;

namespace MLNet.FastAi.StockConsumer.Tests;

/// <summary>
/// Serving at small scale: thousands of single predictions through PredictionEngines keep memory flat once warm, on
/// one thread and on eight, each with its own engine (an engine is not thread-safe). bench/MLNet.FastAi.Serving runs
/// the same soak at full size on a 224-px model.
/// </summary>
/// <remarks>Alone in the process: the memory of other tests running beside it would be counted as its own.</remarks>
[Collection(Name)]
public class ServingSoakTests(StockModelFixture fixture, ITestOutputHelper output) : IClassFixture<StockModelFixture>
{
    public const string Name = "serving soak";

    private const int WarmUp = 500, Measured = 4_000;

    // A leak of even the network's input per prediction (3 × 32 × 24 floats, 9 KB) would add 36 MB over the measured
    // predictions; what a warm process still moves by (allocator arenas settling, the GC's committed regions) is a few.
    private const double MaxNativeGrowthMiB = 16, MaxManagedGrowthMiB = 2;

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void SinglePredictions_KeepMemoryFlat_OnceWarm(int threads)
    {
        var context = new MLContext();
        var model = fixture.Load(context, out _);
        // Engines that do not own the model: by default disposing one disposes the model they share (its ONNX session).
        var engines = Enumerable.Range(0, threads)
            .Select(_ => context.Model.CreatePredictionEngine<StockModelFixture.ImageRow, Prediction>(model, new PredictionEngineOptions { OwnsTransformer = false }))
            .ToArray();
        try
        {
            Predict(engines, WarmUp);
            var warm = Sample();
            Predict(engines, Measured);
            var after = Sample();
            output.WriteLine($"{threads} thread(s): after {WarmUp:N0} predictions {warm.RssMiB:0.0} MiB resident, {warm.ManagedMiB:0.00} managed; " +
                $"after {Measured:N0} more {after.RssMiB:0.0} and {after.ManagedMiB:0.00}");
            Assert.InRange(after.RssMiB - warm.RssMiB, double.MinValue, MaxNativeGrowthMiB);
            Assert.InRange(after.ManagedMiB - warm.ManagedMiB, double.MinValue, MaxManagedGrowthMiB);
        }
        finally
        {
            foreach (var engine in engines) engine.Dispose();
        }
    }

    /// <summary><paramref name="count"/> predictions spread over the engines, each on a thread of its own, cycling through the fixture's images.</summary>
    private void Predict(PredictionEngine<StockModelFixture.ImageRow, Prediction>[] engines, int count)
    {
        var rows = fixture.Rows;
        Exception? failure = null;
        var workers = engines.Select((engine, e) => new Thread(() =>
        {
            try
            {
                for (int i = e; i < count; i += engines.Length)
                {
                    var prediction = engine.Predict(rows[i % rows.Length]);
                    if (prediction.Score.Length != fixture.Expected.Classes.Length)
                        throw new InvalidDataException($"prediction {i} has {prediction.Score.Length} scores");
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (failure is not null) throw new InvalidOperationException("a serving thread failed", failure);
    }

    /// <summary>Resident memory and the managed heap after a full collection, so that garbage not yet collected is not counted.</summary>
    private static (double RssMiB, double ManagedMiB) Sample()
    {
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        GC.WaitForPendingFinalizers();
        return (Environment.WorkingSet / 1048576.0, managed / 1048576.0);
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }
}

[CollectionDefinition(ServingSoakTests.Name, DisableParallelization = true)]
public sealed class ServingSoakCollection;
