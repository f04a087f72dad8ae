using System.Globalization;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>fastai's callbacks and the loop's cancellation rules, on the <see cref="SmallMnistFixture.Mini"/> data (2 training batches per epoch).</summary>
[Collection(SmallMnistCollection.Name)]
public class CallbackTests(SmallMnistFixture fixture)
{
    private const int MiniBatches = 2;

    [Fact]
    public void EarlyStopping_WithAnUnreachableMinDelta_StopsAfterPatienceEpochsWithoutImprovement()
    {
        var stopper = new EarlyStoppingCallback(minDelta: 1e9, patience: 2);
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(10, 1e-3, callbacks: new[] { stopper });

        // Epoch 0 improves on +∞; epochs 1 and 2 cannot improve by 1e9, so the fit stops after epoch 2.
        Assert.Equal(3, learner.Recorder.Epochs.Count);
        Assert.Equal(2, stopper.StoppedAtEpoch);
        Assert.False(learner.IsFitting);
    }

    [Fact]
    public void SaveModel_ReloadsTheBestEpochsWeightsWhenTrainingEnds()
    {
        var saver = new SaveModelCallback(monitor: "scripted", fileName: "best-of-three");
        var snapshots = new EpochSnapshots();
        using var learner = fixture.NewLearner(new VisionLearnerOptions { Metrics = new Func<Metric>[] { () => new ScriptedMetric(0.2, 0.9, 0.4) } }, data: fixture.Mini);
        learner.Fit(3, 1e-3, callbacks: new Callback[] { saver, snapshots });

        Assert.Equal(1, saver.BestEpoch);
        Assert.True(File.Exists(Path.Combine(fixture.ModelFolder, "best-of-three.ckpt")));
        var final = TestTorch.Snapshot(learner.Model);
        Assert.Equal(0, TestTorch.MaxDifference(snapshots.ByEpoch[1], final));
        Assert.True(TestTorch.MaxDifference(snapshots.ByEpoch[2], final) > 1e-6, "the last epoch's weights should have been replaced");
    }

    [Fact]
    public void ReduceLROnPlateau_DividesEveryGroupsRateByTheFactor_AfterPatienceEpochsWithoutImprovement()
    {
        var reducer = new ReduceLROnPlateauCallback(monitor: "scripted", patience: 1, factor: 10);
        using var learner = fixture.NewLearner(new VisionLearnerOptions { Metrics = new Func<Metric>[] { () => new ScriptedMetric(0.5, 0.4, 0.3) } }, data: fixture.Mini);
        learner.Fit(3, 1e-3, callbacks: new[] { reducer });

        // Epoch 0 sets the best; epochs 1 and 2 do not improve, so the rates are divided after each of them.
        var rates = learner.Recorder.GroupLearningRates;
        Assert.Equal(3 * MiniBatches, rates.Count);
        Assert.All(rates.Take(2 * MiniBatches), r => Assert.All(r, lr => Assert.Equal(1e-3, lr, 15)));
        Assert.All(rates.Skip(2 * MiniBatches), r => Assert.All(r, lr => Assert.Equal(1e-4, lr, 15)));
        Assert.All(learner.Hypers, h => Assert.Equal(1e-5, h.LearningRate, 15));
        Assert.Equal(2, reducer.Reductions);
    }

    [Fact]
    public void GradientClip_KeepsTheGlobalGradientNormAtMostMaxNorm_AtEveryStep()
    {
        const double maxNorm = 0.05;
        var before = new GradientNormProbe(order: -1);
        var after = new GradientNormProbe(order: 1);
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(1, 1e-3, callbacks: new Callback[] { before, new GradientClipCallback(maxNorm), after });

        Assert.Equal(MiniBatches, after.Norms.Count);
        Assert.Contains(before.Norms, n => n > maxNorm);  // clipping had work to do
        Assert.All(after.Norms, n => Assert.True(n <= maxNorm * (1 + 1e-4), $"gradient norm {n} after clipping"));
        Assert.All(before.Norms.Zip(after.Norms), p => Assert.Equal(Math.Min(p.First, maxNorm), p.Second, 4));
    }

    [Fact]
    public void GradientAccumulation_StepsOncePerNSamples_AndScalesTheLoss()
    {
        // 40 samples per step with batches of 32: the counts run 32, 64 (step), 32, 64 (step), 32, 64 (step).
        var accumulate = new GradientAccumulationCallback(samples: 40);
        var counter = new EventCounter();
        using var learner = fixture.NewLearner();
        learner.Fit(1, 1e-3, callbacks: new Callback[] { accumulate, counter });

        Assert.Equal(3, learner.Optimizer.StepCount);
        Assert.Equal(3, accumulate.Steps);
        Assert.Equal(3, counter.Steps);
        Assert.Equal(SmallMnistFixture.TrainBatches, counter.TrainBatchesEnded);
        Assert.Equal(SmallMnistFixture.TrainBatches, learner.Recorder.Losses.Count);
        Assert.All(counter.LossScales, s => Assert.Equal(32.0 / 40, s, 6));
    }

    [Fact]
    public void Cancellation_StopsWithinOneBatch_ThrowsOperationCanceled_AndTheLearnerCanFitAgain()
    {
        using var cancel = new CancellationTokenSource();
        var counter = new EventCounter { CancelAfterTrainBatch = (2, cancel) };
        using var learner = fixture.NewLearner();

        Assert.ThrowsAny<OperationCanceledException>(() => learner.Fit(3, 1e-3, callbacks: new[] { counter }, cancellation: cancel.Token));

        Assert.Equal(3, counter.TrainBatchesStarted);  // batches 0, 1 and 2: cancelled after batch 2, before batch 3
        Assert.Equal(1, counter.FitsCancelled);
        Assert.Equal(1, counter.FitsEnded);
        Assert.False(learner.IsFitting);
        Assert.Empty(learner.Recorder.Epochs);

        learner.Fit(1, 1e-3);
        Assert.Single(learner.Recorder.Epochs);
        Assert.Equal(SmallMnistFixture.TrainBatches, learner.Recorder.Losses.Count);
    }

    [Fact]
    public void CancelBatch_InAfterPred_SkipsBackwardAndStep_ButStillEndsTheBatch()
    {
        var counter = new EventCounter { Throw = (nameof(Callback.AfterPred), () => new CancelBatchException(), e => true) };
        using var learner = fixture.NewLearner(data: fixture.Mini);
        var parameters = learner.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone().data<float>().ToArray());

        learner.Fit(2, 1e-3, callbacks: new[] { counter });

        Assert.Equal(0, counter.Backwards);
        Assert.Equal(0, learner.Optimizer.StepCount);
        Assert.Equal(2 * MiniBatches, counter.TrainBatchesEnded);
        Assert.All(learner.Model.named_parameters(), p => Assert.Equal(parameters[p.name], p.parameter.data<float>().ToArray()));
        Assert.Equal(2, learner.Recorder.Epochs.Count);
    }

    [Fact]
    public void CancelTrain_EndsTheTrainingPhase_ButTheEpochStillValidates()
    {
        var counter = new EventCounter { Throw = (nameof(Callback.BeforeBatch), () => new CancelTrainException(), l => l.IsTraining && l.Iteration == 1) };
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(2, 1e-3, callbacks: new[] { counter });

        Assert.Equal(2 * 2, counter.TrainBatchesStarted);
        Assert.Equal(2 * 1, counter.TrainBatchesEnded);  // as in fastai, the cancelled batch gets no after_batch
        Assert.Equal(2, counter.TrainPhasesEnded);
        Assert.Equal(2, learner.Recorder.Losses.Count);
        Assert.All(learner.Recorder.Epochs, e => Assert.True(double.IsFinite(e.ValidLoss) && double.IsFinite(e.Metrics["accuracy"])));
    }

    [Fact]
    public void CancelValidate_SkipsValidation_SoTheEpochReportsNoValidationLossNorMetrics()
    {
        var counter = new EventCounter { Throw = (nameof(Callback.BeforeValidate), () => new CancelValidateException(), l => l.Epoch == 1) };
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(2, 1e-3, callbacks: new[] { counter });

        var epochs = learner.Recorder.Epochs;
        Assert.Equal(2, epochs.Count);
        Assert.True(double.IsFinite(epochs[0].ValidLoss) && double.IsFinite(epochs[0].Metrics["accuracy"]));
        Assert.True(double.IsNaN(epochs[1].ValidLoss));
        Assert.True(double.IsNaN(epochs[1].Metrics["accuracy"]), $"epoch 1 was not validated but reports accuracy {epochs[1].Metrics["accuracy"]}");
        Assert.Equal(2 * MiniBatches, learner.Recorder.Losses.Count);
        Assert.Equal(2, counter.ValidationsEnded);
    }

    [Fact]
    public void CancelEpoch_SkipsTheRestOfTheEpoch_ButTheEpochEndsAndTheNextOneRuns()
    {
        var counter = new EventCounter { Throw = (nameof(Callback.AfterTrain), () => new CancelEpochException(), l => l.Epoch == 0) };
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(2, 1e-3, callbacks: new[] { counter });

        Assert.Equal(1, counter.ValidationsStarted);  // epoch 1 only
        Assert.Equal(2, counter.EpochsEnded);
        var epochs = learner.Recorder.Epochs;
        Assert.True(double.IsNaN(epochs[0].ValidLoss) && double.IsNaN(epochs[0].Metrics["accuracy"]));
        Assert.True(double.IsFinite(epochs[1].ValidLoss));
    }

    [Fact]
    public void CancelFit_EndsTheFitQuietly_AfterCancelFitAndAfterFit()
    {
        // Ordered after the recorder, as fastai's trackers are, so the epoch is on record when the fit stops.
        var counter = new EventCounter { Throw = (nameof(Callback.AfterEpoch), () => new CancelFitException(), l => l.Epoch == 0), RunOrder = 60 };
        using var learner = fixture.NewLearner(data: fixture.Mini);
        learner.Fit(3, 1e-3, callbacks: new[] { counter });

        Assert.Single(learner.Recorder.Epochs);
        Assert.Equal(1, counter.FitsCancelled);
        Assert.Equal(1, counter.FitsEnded);
        Assert.Equal(MiniBatches, counter.TrainBatchesStarted);
    }

    [Fact]
    public void CsvLogger_WritesAHeaderAndOneRowPerEpoch_WithTheRecordersValues()
    {
        string path = Path.Combine(fixture.ModelFolder, "history-" + Guid.NewGuid().ToString("N") + ".csv");
        using var learner = fixture.NewLearner(new VisionLearnerOptions { Metrics = new Func<Metric>[] { ClassificationMetrics.Accuracy, ClassificationMetrics.ErrorRate } }, data: fixture.Mini);
        learner.Fit(2, 1e-3, callbacks: new[] { new CsvLoggerCallback(path) });

        var lines = File.ReadAllLines(path);
        Assert.Equal("epoch,train_loss,valid_loss,accuracy,error_rate,time", lines[0]);
        Assert.Equal(3, lines.Length);
        for (int e = 0; e < 2; e++)
        {
            var cells = lines[e + 1].Split(',');
            var record = learner.Recorder.Epochs[e];
            Assert.Equal(6, cells.Length);
            Assert.Equal(e, int.Parse(cells[0], CultureInfo.InvariantCulture));
            Assert.Equal(record.TrainLoss, double.Parse(cells[1], CultureInfo.InvariantCulture), 6);
            Assert.Equal(record.ValidLoss, double.Parse(cells[2], CultureInfo.InvariantCulture), 6);
            Assert.Equal(record.Metrics["accuracy"], double.Parse(cells[3], CultureInfo.InvariantCulture), 6);
            Assert.Equal(record.Metrics["error_rate"], double.Parse(cells[4], CultureInfo.InvariantCulture), 6);
            Assert.Matches(@"^\d\d:\d\d$", cells[5]);
        }
    }

    /// <summary>A metric that reports given values, one per epoch, to drive the trackers.</summary>
    private sealed class ScriptedMetric(params double[] values) : Metric
    {
        private int _epoch;

        public override string Name => "scripted";

        public override void Reset(int classes, Device device) { }

        public override void Accumulate(Tensor logits, Tensor targets) { }

        public override double Compute() => values[_epoch++];
    }

    /// <summary>Copies the weights at the end of every epoch, after the trackers ran.</summary>
    private sealed class EpochSnapshots : Callback
    {
        public List<Dictionary<string, float[]>> ByEpoch { get; } = new();

        public override int Order => 80;

        public override void AfterEpoch() => ByEpoch.Add(TestTorch.Snapshot(Learner.Model));
    }

    private sealed class GradientNormProbe(int order) : Callback
    {
        public List<double> Norms { get; } = new();

        public override int Order => order;

        public override void BeforeStep()
        {
            using var norm = Learner.Optimizer.GradientNorm();
            Norms.Add(norm.item<float>());
        }
    }

    /// <summary>Counts events, and optionally throws a cancellation or cancels a token at a chosen point.</summary>
    private sealed class EventCounter : Callback
    {
        public int TrainBatchesStarted, TrainBatchesEnded, Backwards, Steps, TrainPhasesEnded, ValidationsStarted, ValidationsEnded, EpochsEnded, FitsEnded, FitsCancelled;

        public List<double> LossScales { get; } = new();

        public (string Event, Func<Exception> Exception, Func<Learner, bool> When)? Throw { get; init; }

        public (int Batch, CancellationTokenSource Source)? CancelAfterTrainBatch { get; init; }

        /// <summary>After the schedulers and gradient accumulation, before the recorder (50), unless set.</summary>
        public int RunOrder { get; init; } = 20;

        public override int Order => RunOrder;

        private void Maybe(string name)
        {
            if (Throw is { } t && t.Event == name && t.When(Learner)) throw t.Exception();
        }

        public override void BeforeBatch()
        {
            if (Learner.IsTraining) TrainBatchesStarted++;
            Maybe(nameof(BeforeBatch));
        }

        public override void AfterPred()
        {
            if (Learner.IsTraining) Maybe(nameof(AfterPred));
        }

        public override void AfterLoss()
        {
            if (Learner.IsTraining && Learner.Loss is { } loss && Learner.LossToBackpropagate is { } scaled)
                LossScales.Add(scaled.item<float>() / loss.item<float>());
        }

        public override void BeforeBackward() => Backwards++;

        public override void AfterStep() => Steps++;

        public override void AfterBatch()
        {
            if (!Learner.IsTraining) return;
            TrainBatchesEnded++;
            if (CancelAfterTrainBatch is { } c && Learner.TrainIteration == c.Batch) c.Source.Cancel();
        }

        public override void AfterTrain()
        {
            TrainPhasesEnded++;
            Maybe(nameof(AfterTrain));
        }

        public override void BeforeValidate()
        {
            ValidationsStarted++;
            Maybe(nameof(BeforeValidate));
        }

        public override void AfterValidate() => ValidationsEnded++;

        public override void AfterEpoch()
        {
            EpochsEnded++;
            Maybe(nameof(AfterEpoch));
        }

        public override void AfterFit() => FitsEnded++;

        public override void AfterCancelFit() => FitsCancelled++;
    }
}
