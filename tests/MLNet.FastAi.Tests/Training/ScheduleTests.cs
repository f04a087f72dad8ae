using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Training;

/// <summary>
/// One-cycle and fine_tune schedules against fastai's formulas (fastai/callback/schedule.py), written out here
/// independently: <c>SchedCos(start, end)(pos) = start + (1 + cos(π(1 − pos)))·(end − start)/2</c>, combined over
/// <c>pct_start</c>, with the position of batch i of n = i/n (fastai's <c>pct_train</c> before the batch).
/// </summary>
[Collection(SmallMnistCollection.Name)]
public class ScheduleTests(SmallMnistFixture fixture, ITestOutputHelper output)
{
    private static double Cos(double start, double end, double pos) => start + (1 + Math.Cos(Math.PI * (1 - pos))) * (end - start) / 2;

    private static double OneCycle(double pct, double pctStart, double start, double middle, double end) =>
        pct < pctStart ? Cos(start, middle, pct / pctStart) : Cos(middle, end, (pct - pctStart) / (1 - pctStart));

    private static void AssertRelative(double expected, double actual, string what)
    {
        double error = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(error <= 1e-9, $"{what}: expected {expected:R}, recorded {actual:R} (relative error {error:E2})");
    }

    [Fact]
    public void FitOneCycle_RecordsFastAisLearningRatePerGroupAndIteration_WarmingUpThenAnnealing()
    {
        var recorder = fixture.Trained.Recorder;
        int n = SmallMnistFixture.TrainedEpochs * SmallMnistFixture.TrainBatches;
        double[] peaks = SmallMnistFixture.TrainedPeaks.ForGroups(3);
        Assert.Equal(new[] { 1e-3, Math.Sqrt(1e-3 * 1e-2), 1e-2 }, peaks, new RelativeComparer(1e-12));
        Assert.Equal(n, recorder.GroupLearningRates.Count);

        for (int i = 0; i < n; i++)
            for (int g = 0; g < 3; g++)
                AssertRelative(OneCycle((double)i / n, 0.25, peaks[g] / 25, peaks[g], peaks[g] / 1e5), recorder.GroupLearningRates[i][g], $"iteration {i}, group {g}");

        // The landmarks, spelled out: lr/div at the first batch, the peak at pct_start (batch 3 of 12), and the last batch.
        for (int g = 0; g < 3; g++)
        {
            AssertRelative(peaks[g] / 25, recorder.GroupLearningRates[0][g], "first");
            AssertRelative(peaks[g], recorder.GroupLearningRates[3][g], "peak");
            AssertRelative(Cos(peaks[g], peaks[g] / 1e5, (11.0 / 12 - 0.25) / 0.75), recorder.GroupLearningRates[11][g], "last");
        }
        Assert.Equal(recorder.GroupLearningRates.Select(r => r[2]), recorder.LearningRates);
    }

    [Fact]
    public void FitOneCycle_RecordsMomentumFalling_From095To085_ThenRisingBackTo095()
    {
        var moms = fixture.Trained.Recorder.Momentums;
        int n = moms.Count;
        for (int i = 0; i < n; i++) AssertRelative(OneCycle((double)i / n, 0.25, 0.95, 0.85, 0.95), moms[i], $"momentum at iteration {i}");
        AssertRelative(0.95, moms[0], "first momentum");
        AssertRelative(0.85, moms[3], "momentum at the peak learning rate");
        Assert.True(moms[^1] > 0.94, $"the last momentum {moms[^1]} should be back near 0.95");
    }

    [Fact]
    public void FitOneCycle_TheSmoothedTrainingLossFalls()
    {
        var losses = fixture.Trained.Recorder.Losses;
        output.WriteLine($"smoothed losses: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.Equal(12, losses.Count);
        Assert.True(losses[^1] < 0.8 * losses[0], $"smoothed loss went from {losses[0]:F3} to {losses[^1]:F3}; expected a fall of at least 20%");
        Assert.All(fixture.Trained.Recorder.Epochs, e => Assert.True(double.IsFinite(e.ValidLoss)));
    }

    [Fact]
    public void FineTune_RunsAFrozenOneCycle_AtSliceOfBaseLr_WithPctStart099_ThenAnUnfrozenOne_AtHalfTheRateOverLrMult_WithDiv5()
    {
        var phases = new PhaseRecorder();
        using var learner = fixture.NewLearner();
        learner.FineTune(1, callbacks: new[] { phases });

        Assert.Equal(2, phases.Phases.Count);
        var (frozen1, rates1) = phases.Phases[0];
        var (frozen2, rates2) = phases.Phases[1];
        Assert.Equal(2, frozen1);
        Assert.Equal(0, frozen2);

        // Phase 1: fit_one_cycle(1, slice(2e-3), pct_start=0.99): peaks [2e-4, 2e-4, 2e-3], div 25, div_final 1e5.
        double[] peaks1 = { 2e-4, 2e-4, 2e-3 };
        int n1 = rates1.Count;
        Assert.Equal(SmallMnistFixture.TrainBatches, n1);
        for (int i = 0; i < n1; i++)
            for (int g = 0; g < 3; g++)
                AssertRelative(OneCycle((double)i / n1, 0.99, peaks1[g] / 25, peaks1[g], peaks1[g] / 1e5), rates1[i][g], $"phase 1, iteration {i}, group {g}");

        // Phase 2: base_lr halved, fit_one_cycle(1, slice(1e-3/100, 1e-3), pct_start=0.3, div=5): peaks [1e-5, 1e-4, 1e-3].
        double[] peaks2 = { 1e-5, 1e-4, 1e-3 };
        int n2 = rates2.Count;
        for (int i = 0; i < n2; i++)
            for (int g = 0; g < 3; g++)
                AssertRelative(OneCycle((double)i / n2, 0.3, peaks2[g] / 5, peaks2[g], peaks2[g] / 1e5), rates2[i][g], $"phase 2, iteration {i}, group {g}");
        for (int g = 0; g < 3; g++) AssertRelative(peaks2[g] / 5, rates2[0][g], "phase 2 starts at lr/5");
    }

    [Fact]
    public void FitFlatCos_HoldsTheRateFor75PercentOfTraining_ThenAnnealsOnACosine()
    {
        using var learner = fixture.NewLearner();
        learner.FitFlatCos(2, 1e-3);

        var rates = learner.Recorder.LearningRates;
        int n = 2 * SmallMnistFixture.TrainBatches;
        Assert.Equal(n, rates.Count);
        for (int i = 0; i < n; i++)
        {
            double pct = (double)i / n;
            double expected = pct < 0.75 ? 1e-3 : Cos(1e-3, 1e-3 / 1e5, (pct - 0.75) / 0.25);
            AssertRelative(expected, rates[i], $"iteration {i}");
        }
        Assert.True(rates[^1] < 0.3e-3, $"the last rate {rates[^1]} should be well on its way down (a quarter of the peak at 2/3 of the cosine)");
    }

    /// <summary>Copies the recorder's per-group rates at the end of each fit, and the frozen group count at its start.</summary>
    private sealed class PhaseRecorder : Callback
    {
        private int _frozen;

        public List<(int Frozen, List<double[]> Rates)> Phases { get; } = new();

        public override int Order => 90;

        public override void BeforeFit() => _frozen = Learner.FrozenGroups;

        public override void AfterFit() => Phases.Add((_frozen, Learner.Recorder.GroupLearningRates.Select(r => r.ToArray()).ToList()));
    }

    private sealed class RelativeComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * Math.Max(Math.Abs(x), Math.Abs(y));
        public int GetHashCode(double obj) => 0;
    }
}
