using Microsoft.ML;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Damage swept across whole files: one byte flipped at many offsets (headers, data, central directory) and the file
/// cut at many lengths (from nothing to one byte short). For a checkpoint and for an ML.NET zip loaded with
/// <see cref="CheckedModelLoading.LoadChecked"/>, every damaged copy is either refused with an error that names the
/// file, leaving the learner as it was, or loads to exactly the original weights or scores (a flip in a field nothing
/// reads, such as a timestamp). Nothing loads different numbers.
/// </summary>
[Trait("Category", "Slow")]
public sealed class DamagedFileSweepTests(TinyDigitsFixture fixture, ITestOutputHelper output) : IClassFixture<TinyDigitsFixture>, IDisposable
{
    private const int FlipCount = 40;
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mlnet-fastai-sweep-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void ACheckpoint_DamagedAnywhere_IsRefusedNamingTheFile_OrLoadsTheSameWeights()
    {
        using var trained = fixture.NewLearner(new VisionLearnerOptions { ModelDirectory = _root });
        trained.Fit(1, 1e-3);
        string original = trained.Save("good");
        var expected = TestTorch.Snapshot(trained.Model);
        using var target = fixture.NewLearner(new VisionLearnerOptions { ModelDirectory = _root });
        var before = TestTorch.Snapshot(target.Model);
        string untrained = target.Save("untrained");
        Assert.True(TestTorch.MaxDifference(expected, before) > 1e-4, "the target must start from other weights");

        var tally = Sweep(File.ReadAllBytes(original), damaged =>
        {
            try
            {
                target.Load(damaged);
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(damaged, e.Message);
                Assert.Equal(0, TestTorch.MaxDifference(before, TestTorch.Snapshot(target.Model)));  // left as it was
                return false;
            }
            Assert.Equal(0, TestTorch.MaxDifference(expected, TestTorch.Snapshot(target.Model)));
            target.Load(untrained);  // back to the starting weights for the next copy
            return true;
        });

        output.WriteLine($"checkpoint ({new FileInfo(original).Length} bytes): {tally}");
        Assert.True(tally.Refused >= tally.Total * 3 / 4, $"most damage should be detected: {tally}");
    }

    [Fact]
    public void AnMLNetZip_DamagedAnywhere_IsRefusedByLoadCheckedNamingTheFile_OrScoresTheSame()
    {
        using var learn = fixture.NewLearner();
        // A damaged copy that ML.NET gives up on halfway through loading leaves its copy of the network in the context's
        // temporary folder (ML.NET deletes it only when the model it never returned is disposed): keep those in _root.
        var context = new MLContext(seed: 1) { TempFilePath = _root };
        string original = learn.SaveMLNetModel(context, Path.Combine(_root, "model.zip"));
        var input = context.Data.LoadFromEnumerable(fixture.Data.Valid.Paths.Take(4).Select(p => new PathRow { ImagePath = p }).ToList());
        float[][] Scores(ITransformer model) => context.Data.CreateEnumerable<ScoreRow>(model.Transform(input), reuseRowObject: false).Select(r => r.Score).ToArray();
        float[][] expected;
        using (var reference = context.Model.LoadChecked(original, out _) as IDisposable) expected = Scores((ITransformer)reference!);

        var stock = new Dictionary<string, int>();  // what plain Model.Load makes of the same copies, for the record
        var tally = Sweep(File.ReadAllBytes(original), damaged =>
        {
            string outcome;
            try
            {
                using var loaded = context.Model.Load(damaged, out _) as IDisposable;
                var stockScores = Scores((ITransformer)loaded!);
                outcome = stockScores.Zip(expected).All(p => p.First.AsSpan().SequenceEqual(p.Second)) ? "loaded the same scores" : "loaded DIFFERENT scores";
            }
            catch (Exception e)
            {
                outcome = "threw " + e.GetType().Name;
            }
            stock[outcome] = stock.GetValueOrDefault(outcome) + 1;

            ITransformer model;
            try
            {
                model = context.Model.LoadChecked(damaged, out _);
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(damaged, e.Message);
                return false;
            }
            var scores = Scores(model);
            (model as IDisposable)?.Dispose();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], scores[i]);
            return true;
        });

        output.WriteLine($"ML.NET zip ({new FileInfo(original).Length} bytes), LoadChecked: {tally}");
        output.WriteLine($"the same copies under plain Model.Load: {string.Join(", ", stock.Select(p => $"{p.Value} {p.Key}"))}");
        Assert.True(tally.Refused >= tally.Total * 3 / 4, $"most damage should be detected: {tally}");
    }

    [Fact]
    public void LoadChecked_NamesTheFile_ForAMissingFile_ANonZip_AndAZipThatIsNotAModel()
    {
        var context = new MLContext(seed: 1);
        string missing = Path.Combine(_root, "missing.zip");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => context.Model.LoadChecked(missing, out _)).Message);

        string text = Path.Combine(_root, "notes.zip");
        File.WriteAllText(text, "not a zip");
        var e = Assert.Throws<InvalidDataException>(() => context.Model.LoadChecked(text, out _));
        Assert.Contains(text, e.Message);
        Assert.Contains("not a readable zip", e.Message);

        using var learn = fixture.NewLearner(new VisionLearnerOptions { ModelDirectory = _root });
        string checkpoint = learn.Save("not-a-model");
        e = Assert.Throws<InvalidDataException>(() => context.Model.LoadChecked(checkpoint, out _));
        Assert.Contains(checkpoint, e.Message);
        Assert.Contains("cannot load it as a model", e.Message);
    }

    /// <summary>
    /// Writes each damaged copy (a flip at <see cref="FlipCount"/> offsets spread over the file, plus the first and last
    /// 8 bytes, and cuts at 0, 1, 4, 30 bytes, every tenth of the file and one byte short) and asks
    /// <paramref name="load"/> whether it loaded (true) or was refused (false).
    /// </summary>
    private Tally Sweep(byte[] good, Func<string, bool> load)
    {
        var offsets = Enumerable.Range(0, FlipCount).Select(i => (int)((long)i * (good.Length - 1) / (FlipCount - 1)))
            .Concat(Enumerable.Range(0, 8)).Concat(Enumerable.Range(good.Length - 8, 8)).Distinct().ToList();
        var lengths = new[] { 0, 1, 4, 30 }.Concat(Enumerable.Range(1, 9).Select(t => good.Length * t / 10)).Append(good.Length - 1).Distinct().ToList();
        var tally = new Tally();
        foreach (int offset in offsets)
        {
            var copy = (byte[])good.Clone();
            copy[offset] ^= 0x5A;
            tally.Add(LoadAndDelete(Write($"flip-{offset}.bin", copy)), flip: true);
        }
        foreach (int length in lengths)
            tally.Add(LoadAndDelete(Write($"cut-{length}.bin", good.AsSpan(0, length).ToArray())), flip: false);
        return tally;

        bool LoadAndDelete(string path)
        {
            bool loaded = load(path);
            File.Delete(path);  // tens of copies of a 20-40 MB file would otherwise fill a small /tmp
            return loaded;
        }
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private sealed class Tally
    {
        public int Total, Refused, FlipsLoadedUnchanged, CutsLoadedUnchanged, Flips, Cuts;

        public void Add(bool loaded, bool flip)
        {
            Total++;
            if (flip) Flips++; else Cuts++;
            if (!loaded) Refused++;
            else if (flip) FlipsLoadedUnchanged++;
            else CutsLoadedUnchanged++;
        }

        public override string ToString() =>
            $"{Total} damaged copies ({Flips} flipped bytes, {Cuts} cuts): {Refused} refused naming the file, " +
            $"{FlipsLoadedUnchanged} flips and {CutsLoadedUnchanged} cuts loaded the original values exactly, none loaded anything else";
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
