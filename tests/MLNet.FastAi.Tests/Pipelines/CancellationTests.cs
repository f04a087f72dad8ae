using System.Diagnostics;
using Microsoft.ML;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training.Callbacks;
using Xunit.Abstractions;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// <c>mlContext.CancelExecution()</c> and a cancellation token stop a fit within one batch with ML.NET's
/// <see cref="OperationCanceledException"/>.
/// </summary>
public class CancellationTests(ITestOutputHelper output)
{
    /// <summary>Counts batches, the ones begun after <see cref="CancelledAt"/> apart, and signals once <see cref="SignalAfter"/> have run.</summary>
    private sealed class BatchProbe : Callback
    {
        private int _batches;
        private int _afterCancel;
        private long _cancelledAt = long.MaxValue;

        public int SignalAfter { get; init; } = 3;

        public Action? OnSignal { get; init; }

        public ManualResetEventSlim Signal { get; } = new();

        public int Batches => Volatile.Read(ref _batches);

        public int BatchesBegunAfterCancel => Volatile.Read(ref _afterCancel);

        public void CancelledAt(long timestamp) => Interlocked.Exchange(ref _cancelledAt, timestamp);

        public override void BeforeBatch()
        {
            if (Stopwatch.GetTimestamp() > Interlocked.Read(ref _cancelledAt)) Interlocked.Increment(ref _afterCancel);
        }

        public override void AfterBatch()
        {
            if (Interlocked.Increment(ref _batches) != SignalAfter) return;
            OnSignal?.Invoke();
            Signal.Set();
        }
    }

    [Fact]
    public async Task CancelExecution_FromAnotherThread_StopsTheFitWithinOneBatch_AndTheContextStaysCancelled()
    {
        TestTorch.UseOneThread();
        var ml = new MLContext(seed: 1);
        var train = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(8)));
        var probe = new BatchProbe();
        var options = Options();
        options.Epochs = 200;  // far more than the test waits for: only the cancellation ends this fit
        options.BatchSize = 4;
        options.Callbacks = [probe];
        var estimator = ml.MulticlassClassification.Trainers.FastAiCnn(options);

        var fit = Task.Run(() => estimator.Fit(train));
        Assert.True(probe.Signal.Wait(TimeSpan.FromMinutes(3)), "training did not reach its third batch");
        long cancelled = Stopwatch.GetTimestamp();
        ml.CancelExecution();
        probe.CancelledAt(Stopwatch.GetTimestamp());
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fit);
        var latency = Stopwatch.GetElapsedTime(cancelled);

        output.WriteLine($"cancelled after {probe.Batches - probe.BatchesBegunAfterCancel} batches; {probe.BatchesBegunAfterCancel} begun afterwards; " +
                         $"Fit threw {latency.TotalMilliseconds:0} ms after CancelExecution: {e.Message}");
        Assert.InRange(probe.BatchesBegunAfterCancel, 0, 1);
        Assert.Contains("the MLContext was cancelled", e.Message);

        // ML.NET's cancellation is for good: this context's estimators refuse to start, this one like ML.NET's own.
        int before = probe.Batches;
        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(train));
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.Conversion.MapValueToKey("PathKey", "ImagePath").Fit(train));
        Assert.Equal(before, probe.Batches);
    }

    [Fact]
    public void ACancelledToken_StopsOneFitAtTheNextBatch_AndTheSameEstimatorFitsAgain()
    {
        TestTorch.UseOneThread();
        var ml = new MLContext(seed: 1);
        var train = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(8)));
        using var cancellation = new CancellationTokenSource();
        var probe = new BatchProbe { SignalAfter = 2, OnSignal = cancellation.Cancel };
        var options = Options();
        options.BatchSize = 4;
        options.Epochs = 3;
        options.Callbacks = [probe];
        var estimator = ml.MulticlassClassification.Trainers.FastAiCnn(options);

        var e = Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(train, null, cancellation.Token));

        Assert.Equal(2, probe.Batches);  // cancelled during batch 2: batch 3 never began
        Assert.DoesNotContain("MLContext", e.Message);
        using var model = estimator.Fit(train);
        Assert.Equal(3, model.Learner.Recorder.Epochs.Count);
    }
}
