using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using TorchSharp;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Long runs: twenty epochs, checkpointing after each, hold memory flat (resident set and live tensors sampled after
/// every epoch), and the same
/// seed on the CPU gives bit-identical weights. In the process-wide-randomness collection, which runs alone, so that
/// no other test allocates memory or draws random numbers meanwhile.
/// </summary>
[Collection(ProcessWideRandomness.Name)]
[Trait("Category", "Slow")]
public sealed class LongRunTests(ITestOutputHelper output) : IDisposable
{
    private const int Epochs = 20;
    private const long MiB = 1 << 20;

    private readonly ImageDataLoaders _data = Digits();
    private readonly string _models = Path.Combine(Path.GetTempPath(), "mlnet-fastai-long-run-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        _data.Dispose();
        try { Directory.Delete(_models, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>100 MNIST digits (10 per class) at 16×16, batch 16, with fastai's augmentation; 20 for validation.</summary>
    private static ImageDataLoaders Digits()
    {
        TestTorch.UseOneThread();
        return ImageDataLoaders.FromSplits(MnistSample.Take("training", 10), MnistSample.Take("training", 2, skip: 10), options: new ImageDataOptions
        {
            ImageSize = 16, BatchSize = 16, Seed = 2, Normalization = NormalizationStats.Mnist, Augmentation = AugmentationOptions.Default,
        });
    }

    private Learner NewLearner(string modelDirectory = "models") => Learner.Vision(_data, new VisionLearnerOptions
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 11,
        ModelDirectory = modelDirectory,
    });

    [Fact]
    public void TwentyEpochs_KeepResidentMemoryAndLiveTensorsFlat()
    {
        using var learn = NewLearner(_models);
        var probe = new MemoryProbe();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // A checkpoint with optimizer state after every epoch, as a long run would keep.
        learn.FitOneCycle(Epochs, 3e-3, callbacks: new Callback[] { new SaveModelCallback(fileName: "epoch", everyEpoch: true, withOptimizer: true), probe });
        output.WriteLine($"{Epochs} epochs in {clock.Elapsed.TotalSeconds:F1} s, of which training and validation {learn.Recorder.Epochs.Sum(e => e.Duration.TotalSeconds):F1} s");

        var rss = probe.ResidentBytes.Select(b => b / (double)MiB).ToList();
        output.WriteLine("epoch  RSS (MiB)  live tensors");
        for (int e = 0; e < Epochs; e++) output.WriteLine($"{e,5}  {rss[e],9:F1}  {probe.LiveTensors[e],12}");

        // Bounds relative to the level the process settles at in epochs 3 to 7 (medians, as single samples swing by
        // tens of MiB), not absolute margins: that level depends on the machine and on what else the test host holds.
        // Nothing here depends on the CPU's kernels: every CPU allocates the same tensors, and the live-tensor count
        // below is exact.
        double early = Median(rss.Skip(3).Take(5)), late = Median(rss.Skip(Epochs - 5));
        var last10 = rss.Skip(Epochs - 10).ToList();
        Assert.True(last10.Max() - last10.Min() < 0.08 * early, $"RSS over the last 10 epochs spans {last10.Max() - last10.Min():F1} MiB, over 8% of the early {early:F1} MiB");
        // No climb: the last five epochs sit within 3% of where epochs 3 to 7 did.
        Assert.True(late < 1.03 * early, $"RSS climbed from a median of {early:F1} MiB (epochs 3-7) to {late:F1} MiB (last 5 epochs)");
        // Tensors made on the training thread and not yet freed: the same after every epoch. (Before the fixes that came
        // with this test, 3 tensor handles leaked per epoch, and 2 per parameter with every checkpoint.)
        Assert.Single(probe.LiveTensors.Skip(1).Distinct());
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>
    /// Two learners with the same seed on the same data, one epoch each with augmentation and dropout: every weight
    /// and batch-norm statistic is equal bit for bit (libtorch on one CPU thread, as TestTorch sets).
    /// </summary>
    [Fact]
    public void TheSameSeed_GivesBitIdenticalWeightsAfterAnEpoch()
    {
        Dictionary<string, float[]> Train()
        {
            using var learn = NewLearner();
            learn.FitOneCycle(1, 3e-3);
            return TestTorch.Snapshot(learn.Model);
        }

        var first = Train();
        var second = Train();

        Assert.Equal(first.Keys.Order(), second.Keys.Order());
        foreach (var (name, values) in first)
            Assert.True(values.AsSpan().SequenceEqual(second[name]), $"{name} differs between two runs with the same seed");
        // And training moved the weights away from their (seeded) initial values, so the equality is not vacuous.
        using var untrained = NewLearner();
        Assert.True(TestTorch.MaxDifference(first, TestTorch.Snapshot(untrained.Model)) > 1e-4);
    }

    /// <summary>
    /// After each epoch: the tensors alive that this thread created (counted before any collection, so a tensor left to
    /// its finalizer shows as a leak), then the process's resident set after a full, compacting collection, so that
    /// the swings of the managed heap (a checkpoint copies its weights into managed arrays) do not hide a trend.
    /// </summary>
    private sealed class MemoryProbe : Callback
    {
        public List<long> ResidentBytes { get; } = new();
        public List<long> LiveTensors { get; } = new();

        public override int Order => 90;

        public override void AfterEpoch()
        {
            LiveTensors.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            ResidentBytes.Add(Environment.WorkingSet);
        }
    }
}
