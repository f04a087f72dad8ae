using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// A tiny FastAiCnn model (one epoch on 40 MNIST digits at 16×16), saved as an ML.NET zip and loaded back, and 50
/// testing digits scored once, in order, on one thread: what every concurrent run must reproduce exactly.
/// </summary>
public sealed class ConcurrencyFixture : IDisposable
{
    public ConcurrencyFixture()
    {
        TestTorch.UseOneThread();
        Folder = Path.Combine(Path.GetTempPath(), "mlnet-fastai-concurrency-" + Guid.NewGuid().ToString("N")[..8]);
        Context = new MLContext(seed: 1);
        var train = Context.Data.LoadFromEnumerable(MnistSample.Take("training", 4).Select(t => new Row { ImagePath = t.Path, Label = t.Label }));
        var keys = Context.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        Cnn = Context.MulticlassClassification.Trainers.FastAiCnn(new FastAiCnnOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, Schedule = TrainingSchedule.Constant, Epochs = 1,
            ImageSize = 16, BatchSize = 8, Device = ComputeDevice.Cpu, Seed = 1,
        }).Fit(keys.Transform(train));
        ZipPath = Cnn.Learner.SaveMLNetModel(Context, Path.Combine(Folder, "model.zip"));
        Loaded = Context.Model.Load(ZipPath, out _);
        Rows = MnistSample.Take("testing", 5).Select(t => new Row { ImagePath = t.Path, Label = t.Label }).ToArray();
        Data = Context.Data.LoadFromEnumerable(Rows);
        using var engine = Context.Model.CreatePredictionEngine<Row, Scores>(Loaded, new PredictionEngineOptions { OwnsTransformer = false });
        Sequential = Rows.Select(r => engine.Predict(r).Score).ToArray();
    }

    public string Folder { get; }
    public MLContext Context { get; }
    public FastAiCnnTransformer Cnn { get; }
    public string ZipPath { get; }
    public ITransformer Loaded { get; }
    public Row[] Rows { get; }
    public IDataView Data { get; }

    /// <summary>The loaded model's scores, image by image, from one engine on one thread.</summary>
    public float[][] Sequential { get; }

    public void Dispose()
    {
        (Loaded as IDisposable)?.Dispose();
        Cnn.Dispose();
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }

    public sealed class Row
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public sealed class Scores
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}

/// <summary>
/// Prediction from many threads gives exactly the sequential results: one PredictionEngine per thread over a loaded
/// ML.NET zip, and <c>Transform</c> shared by all threads, on the FastAiCnn transformer and on the loaded model. A
/// learner, which is not thread-safe, refuses predictions from another thread while it trains.
/// </summary>
public sealed class ConcurrencyTests(ConcurrencyFixture fixture, ITestOutputHelper output) : IClassFixture<ConcurrencyFixture>
{
    private const int Threads = 8, Rounds = 3;

    [Fact]
    public void OnePredictionEnginePerThread_OverALoadedZip_GivesExactlyTheSequentialScores()
    {
        int predictions = 0;
        var failures = RunOnThreads(thread =>
        {
            using var engine = fixture.Context.Model.CreatePredictionEngine<ConcurrencyFixture.Row, ConcurrencyFixture.Scores>(fixture.Loaded,
                new PredictionEngineOptions { OwnsTransformer = false });
            var order = Enumerable.Range(0, fixture.Rows.Length).OrderBy(_ => Random.Shared.Next()).ToArray();  // every thread its own order
            var wrong = new List<string>();
            for (int round = 0; round < Rounds; round++)
                foreach (int i in order)
                {
                    var score = engine.Predict(fixture.Rows[i]).Score;
                    Interlocked.Increment(ref predictions);
                    if (!score.SequenceEqual(fixture.Sequential[i])) wrong.Add($"thread {thread}, image {i}: [{string.Join(", ", score)}]");
                }
            return wrong;
        });

        output.WriteLine($"{Threads} threads × {Rounds} rounds × {fixture.Rows.Length} images = {predictions} predictions");
        Assert.Equal(Threads * Rounds * fixture.Rows.Length, predictions);
        Assert.Empty(failures);
    }

    [Fact]
    public void Transform_SharedByManyThreads_OnTheFastAiCnnTransformerAndOnTheLoadedModel_GivesExactlyTheSequentialScores()
    {
        foreach (var (name, model) in new (string, ITransformer)[] { ("FastAiCnnTransformer", fixture.Cnn), ("loaded zip", fixture.Loaded) })
        {
            var sequential = model.Transform(fixture.Data).GetColumn<float[]>("Score").ToArray();
            Assert.Equal(fixture.Rows.Length, sequential.Length);
            for (int i = 0; i < sequential.Length; i++) Assert.Equal(fixture.Sequential[i], sequential[i]);

            var failures = RunOnThreads(thread =>
            {
                var wrong = new List<string>();
                for (int round = 0; round < Rounds; round++)
                {
                    var scores = model.Transform(fixture.Data).GetColumn<float[]>("Score").ToArray();
                    for (int i = 0; i < scores.Length; i++)
                        if (!scores[i].SequenceEqual(sequential[i])) wrong.Add($"{name}, thread {thread}, row {i}");
                }
                return wrong;
            });

            output.WriteLine($"{name}: {Threads} threads × {Rounds} transforms × {fixture.Rows.Length} rows");
            Assert.Empty(failures);
        }
    }

    /// <summary>
    /// A fit runs on a worker thread and holds between its training and validation phases — where a callback on the
    /// fitting thread may predict — while this thread asks the learner for predictions, a second fit, a fine_tune
    /// (which would freeze first), a save, a load and an unfreeze: each refused before it changes or reads anything,
    /// and the fit then completes normally with its freezing untouched.
    /// </summary>
    [Fact]
    public async Task ALearner_RefusesEveryCallFromAnotherThreadWhileItFits_EvenBetweenPhases()
    {
        using var learn = Learner.Vision(fixture.Cnn.Learner.Data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu, Seed = 1,
        });
        using var betweenPhases = new ManualResetEventSlim();
        using var mayContinue = new ManualResetEventSlim();
        var hold = new HoldAfterTraining(betweenPhases, mayContinue);
        learn.FreezeTo(1);
        int frozen = learn.FrozenGroups;
        var fit = Task.Run(() => learn.Fit(1, 1e-3, callbacks: new Callback[] { hold }));
        try
        {
            Assert.True(betweenPhases.Wait(TimeSpan.FromMinutes(2)), "the fit never finished its training phase");
            var calls = new (string Name, Action Call)[]
            {
                ("GetPreds", () => learn.GetPreds()), ("Predict", () => learn.Predict(learn.Data.Valid.Paths[0])),
                ("Fit", () => learn.Fit(1, 1e-3)), ("FineTune", () => learn.FineTune(1)), ("Save", () => learn.Save("during-fit")),
                ("Load", () => learn.Load("during-fit")), ("Unfreeze", learn.Unfreeze), ("ExportOnnx", () => learn.ExportOnnx(Path.Combine(Path.GetTempPath(), "never.onnx"))),
            };
            foreach (var (name, call) in calls)
            {
                var e = Assert.Throws<InvalidOperationException>(call);
                Assert.Contains("another thread", e.Message);
                Assert.Contains(name, e.Message);
            }
            Assert.Equal(frozen, learn.FrozenGroups);
        }
        finally
        {
            mayContinue.Set();
        }
        await fit.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Single(learn.Recorder.Epochs);
        Assert.Equal(frozen, learn.FrozenGroups);
        Assert.False(File.Exists(Path.Combine(learn.ModelDirectory, "during-fit.ckpt")));
        Assert.Equal(learn.Data.Valid.Count, learn.GetPreds().Count);  // and afterwards this thread may predict
    }

    /// <summary>Runs <paramref name="work"/> on <see cref="Threads"/> threads released together; returns every failure.</summary>
    private static List<string> RunOnThreads(Func<int, List<string>> work)
    {
        using var start = new Barrier(Threads);
        var results = new List<string>[Threads];
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            try { results[t] = work(t); }
            catch (Exception e) { results[t] = new List<string> { $"thread {t}: {e}" }; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return results.SelectMany(r => r).ToList();
    }

    private sealed class HoldAfterTraining(ManualResetEventSlim reached, ManualResetEventSlim release) : Callback
    {
        public override void AfterTrain()
        {
            reached.Set();
            release.Wait(TimeSpan.FromMinutes(2));
        }
    }
}
