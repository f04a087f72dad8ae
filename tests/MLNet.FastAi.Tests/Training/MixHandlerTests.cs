using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>
/// The loop's seams: a callback can replace the batch (fastai's <c>xb</c>/<c>yb</c>) and the loss; every part of the
/// loop has its cancel event; and fastai's MixUp and CutMix, written on those seams, mix only training batches and
/// still train models that classify.
/// </summary>
[Collection(SmallMnistCollection.Name)]
public sealed class MixHandlerTests(SmallMnistFixture fixture, ITestOutputHelper output)
{
    /// <summary>Seeded run with <see cref="SmallMnistFixture.TrainedPeaks"/>: its accuracy on 50 validation digits.</summary>
    private double TrainedAccuracy(Callback? mixing, int epochs = 6)
    {
        using var learner = fixture.NewLearner(seed: 5);
        if (mixing is not null) learner.AddCallback(mixing);
        var loss = learner.LossFunction;
        learner.FitOneCycle(epochs, SmallMnistFixture.TrainedPeaks);
        Assert.Same(loss, learner.LossFunction);  // the mixed loss lasts only while training
        double accuracy = learner.Recorder.Epochs[^1].Metrics["accuracy"];
        output.WriteLine($"{mixing?.Name ?? "plain"}: accuracy {accuracy:0.000}, losses {string.Join(" ", learner.Recorder.Epochs.Select(e => e.ValidLoss.ToString("0.000")))}");
        return accuracy;
    }

    [Fact]
    public void MixUpAndCutMix_WithFastAisDefaults_TrainModelsThatClassify()
    {
        // Seeded here: plain 0.54, MixUp 0.56, CutMix 0.46 after six epochs from random weights (chance: 0.10).
        Assert.True(TrainedAccuracy(null) >= 0.40);
        Assert.True(TrainedAccuracy(new MixUp()) >= 0.40);
        Assert.True(TrainedAccuracy(new CutMix()) >= 0.40);
    }

    [Theory]
    [InlineData("MixUp")]
    [InlineData("CutMix")]
    public void Mixing_TouchesTrainingBatchesOnly_BlendsTheLoss_AndRepeatsWithTheSeed(string kind)
    {
        Dictionary<string, float[]> Run(out BatchProbe probe)
        {
            using var learner = fixture.NewLearner(data: fixture.Mini, seed: 11);
            probe = new BatchProbe();
            learner.AddCallback(kind == "MixUp" ? new MixUp() : new CutMix()).AddCallback(probe).AddCallback(probe.Loaded);
            learner.Fit(1, 1e-3);
            return TestTorch.Snapshot(learner.Model);
        }

        var first = Run(out var probe);
        Assert.Equal(2, probe.Training.Count);
        Assert.All(probe.Training, b => Assert.True(b.Replaced, "a training batch was not mixed"));
        // The loss is taken against both targets: not the loss against the batch's own targets alone.
        Assert.Contains(probe.Training, b => Math.Abs(b.Loss - b.OwnLoss) > 1e-4);
        Assert.Single(probe.Validation);
        Assert.All(probe.Validation, b => Assert.False(b.Replaced, "a validation batch was mixed"));
        Assert.All(probe.Validation, b => Assert.Equal(b.OwnLoss, b.Loss, 5));
        // The draws come from the learner's generator: the same seed mixes the same way.
        Assert.Equal(0, TestTorch.MaxDifference(first, Run(out _)));
    }

    [Fact]
    public void AUserCallback_CanReplaceTheBatch_AndTheLoopTrainsOnWhatItSet()
    {
        using var learner = fixture.NewLearner(data: fixture.Mini);
        var zeros = new ReplaceWithClassZero();
        learner.AddCallback(zeros);
        learner.Fit(2, 1e-2);

        Assert.True(zeros.Batches > 0);
        // Taught that every blank image is digit 0, it says so.
        using var blank = zeros_like(zeros.LastImages!);
        using var guard = no_grad();
        learner.Model.eval();
        using var predicted = learner.Model.call(blank).argmax(1);
        Assert.Equal(0L, predicted[0].item<long>());
    }

    [Fact]
    public void EachPartOfTheLoop_HasItsCancelEvent_ThenItsAfterEvent()
    {
        using var learner = fixture.NewLearner(data: fixture.Mini);
        Dictionary<string, float[]> Parameters() => learner.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().cpu().data<float>().ToArray());
        var before = Parameters();
        var cancel = new CancelEverything();
        learner.AddCallback(cancel);
        learner.Fit(1, 1e-3);

        // No step was taken (BatchNorm's running statistics, buffers, still moved in the forward passes).
        Assert.Equal(0, TestTorch.MaxDifference(before, Parameters()));
        Assert.Equal(
            ["after_cancel_backward", "after_batch", "after_cancel_step", "after_batch", "after_cancel_train", "after_train",
             "after_cancel_batch", "after_batch", "after_cancel_validate", "after_validate", "after_cancel_epoch", "after_epoch"],
            cancel.Events);
    }

    private sealed class BatchProbe : Callback
    {
        private Tensor? _loaded;

        public BatchProbe() => Loaded = new LoadedImages(this);

        public override int Order => 10;  // after the mixing callback (0)

        /// <summary>Notes the loader's batch before anything can replace it.</summary>
        public Callback Loaded { get; }

        public List<(bool Replaced, double Loss, double OwnLoss)> Training { get; } = new();

        public List<(bool Replaced, double Loss, double OwnLoss)> Validation { get; } = new();

        public override void AfterLoss()
        {
            using var guard = no_grad();
            using var own = nn.functional.cross_entropy(Learner.Predictions!, Learner.Targets!);
            (Learner.IsTraining ? Training : Validation).Add((!ReferenceEquals(_loaded, Learner.Images), Learner.Loss!.item<float>(), own.item<float>()));
        }

        private sealed class LoadedImages(BatchProbe probe) : Callback
        {
            public override int Order => -10;

            public override void BeforeBatch() => probe._loaded = Learner.Images;
        }
    }

    private sealed class ReplaceWithClassZero : Callback
    {
        public int Batches { get; private set; }

        public Tensor? LastImages { get; private set; }

        public override void BeforeBatch()
        {
            if (!Learner.IsTraining) return;
            Learner.Images = zeros_like(Learner.Images!);
            Learner.Targets = zeros_like(Learner.Targets!);
            LastImages = Learner.Images.detach().clone().MoveToOuterDisposeScope();
            Batches++;
        }
    }

    /// <summary>Cancels one part after another over a fit of two training batches and one validation batch.</summary>
    private sealed class CancelEverything : Callback
    {
        public List<string> Events { get; } = new();

        public override void BeforeBackward()
        {
            if (Learner.Iteration == 0) throw new CancelBackwardException();
        }

        public override void BeforeStep() => throw new CancelStepException();

        public override void BeforeBatch()
        {
            if (!Learner.IsTraining) throw new CancelBatchException();
        }

        public override void AfterBatch()
        {
            Events.Add("after_batch");
            if (Learner.IsTraining && Learner.Iteration == 1) throw new CancelTrainException();
            if (!Learner.IsTraining) throw new CancelValidateException();
        }

        public override void AfterValidate()
        {
            Events.Add("after_validate");
            throw new CancelEpochException();
        }

        public override void AfterCancelBackward() => Events.Add("after_cancel_backward");
        public override void AfterCancelStep() => Events.Add("after_cancel_step");
        public override void AfterCancelBatch() => Events.Add("after_cancel_batch");
        public override void AfterCancelTrain() => Events.Add("after_cancel_train");
        public override void AfterTrain() => Events.Add("after_train");
        public override void AfterCancelValidate() => Events.Add("after_cancel_validate");
        public override void AfterCancelEpoch() => Events.Add("after_cancel_epoch");
        public override void AfterEpoch() => Events.Add("after_epoch");
    }
}
