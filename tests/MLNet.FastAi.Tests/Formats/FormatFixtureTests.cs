using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Hardening;
using MLNet.FastAi.Training;
using MLNet.FastAi.Interpretation.TensorBoard;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Formats;

/// <summary>
/// Files written by an earlier version of the package (see <see cref="FormatFixtures"/>) still load and read the same:
/// an ONNX model, a stock ML.NET zip, a TensorBoard event file and a learner checkpoint.
/// </summary>
public sealed class FormatFixtureTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fastai-fixtures-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static string Fixture(string name) => Path.Combine(FormatFixtures.Folder, name);

    [Fact]
    public void OnnxFixture_ReadsAsTheGraphBuiltToday_AndRunsTheSame()
    {
        byte[] fixture = File.ReadAllBytes(Fixture(FormatFixtures.OnnxFile));
        byte[] rebuilt = OnnxModelWriter.Write(TinyClassifierOnnx.Build());

        // Message equality covers every field: names, shapes, attributes, metadata and each weight's bytes.
        var old = OnnxModelReader.Read(fixture, "fixture");
        Assert.Equal(TinyClassifierOnnx.Build(), old);
        Assert.Equal(OnnxModelReader.Read(rebuilt, "rebuilt"), old);
        Assert.Equal(TinyClassifierOnnx.Values(4 * 3 * 3 * 3, 0.3f, 0.7f), OnnxTensor.Floats(old.Graph.Initializer.Single(t => t.Name == "conv.weight")));
        Assert.Equal(TinyClassifierOnnx.Classes, OnnxTensor.Strings(old.Graph.Initializer.Single(t => t.Name == "class_names")));
        Assert.Equal("[\"zebra\",\"ant\",\"cat\"]", Assert.Single(old.MetadataProps).Value);

        using var oldSession = new InferenceSession(fixture);
        using var nowSession = new InferenceSession(rebuilt);
        for (int image = 0; image < 3; image++)
        {
            var (oldScore, oldOneHot) = Run(oldSession, image);
            var (nowScore, nowOneHot) = Run(nowSession, image);
            Assert.Equal(nowScore, oldScore);
            Assert.Equal(nowOneHot, oldOneHot);
            Assert.Equal(1f, oldOneHot[Array.IndexOf(oldScore, oldScore.Max())]);
        }
    }

    private static (float[] Score, float[] OneHot) Run(InferenceSession session, int image)
    {
        var signature = CnnOnnxSignature.MLNetRow;
        int size = TinyClassifierOnnx.Size;
        float[] pixels = Enumerable.Range(0, 3 * size * size).Select(i => (float)((i * (7 + 13 * image)) % 256)).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(signature.PixelsInput, new DenseTensor<float>(pixels, [1, 3, size, size]))]);
        return (results.Single(r => r.Name == signature.ScoreOutput).AsTensor<float>().ToArray(),
                results.Single(r => r.Name == signature.PredictedOneHotOutput).AsTensor<float>().ToArray());
    }

    [Fact]
    public void ZipFixture_LoadsWithStockMLNet_AndScoresAsAChainBuiltToday()
    {
        Directory.CreateDirectory(_dir);
        var rows = Enumerable.Range(0, 4).Select(i =>
        {
            string path = Path.Combine(_dir, $"image{i}.png");
            // At the model's size: the fixture's resize (Fill, Squish's before it resampled smoothly) and today's leave them as they are.
            File.WriteAllBytes(path, HandMadeImages.RgbPng(8, 8, (x, y) => ((byte)(30 * x + 50 * i), (byte)(20 * y), (byte)(90 * i))));
            return new FormatFixtures.ImageRow { ImagePath = path };
        }).ToArray();
        var context = new MLContext(seed: 1);
        var data = context.Data.LoadFromEnumerable(rows);

        var loaded = context.Model.LoadChecked(Fixture(FormatFixtures.ZipFile), out var schema);
        using var release = loaded as IDisposable;
        Assert.Equal(nameof(FormatFixtures.ImageRow.ImagePath), Assert.Single(schema).Name);
        using var today = StockScoringChain.Fit(context, data, nameof(FormatFixtures.ImageRow.ImagePath), "", FormatFixtures.Pipeline,
            OnnxModelWriter.Write(TinyClassifierOnnx.Build()), TinyClassifierOnnx.Classes);

        var (oldScores, oldLabels) = Score(loaded.Transform(data));
        var (nowScores, nowLabels) = Score(today.Transform(data));
        Assert.Equal(nowScores, oldScores);
        Assert.Equal(nowLabels, oldLabels);
        Assert.NotEqual(oldScores[0], oldScores[3]); // the scores depend on the pixels

        // The network inside the zip is the ONNX fixture, byte for byte: both were written by the same writer.
        using var zip = ZipFile.OpenRead(Fixture(FormatFixtures.ZipFile));
        using var entry = new MemoryStream();
        using (var stream = zip.Entries.Single(e => e.Name == "OnnxModel").Open()) stream.CopyTo(entry);
        Assert.Equal(File.ReadAllBytes(Fixture(FormatFixtures.OnnxFile)), entry.ToArray()[sizeof(int)..]);
    }

    private static (float[][] Scores, string[] Labels) Score(IDataView scored)
    {
        var labels = new List<string>();
        var keyValues = default(VBuffer<ReadOnlyMemory<char>>);
        scored.Schema[StockScoringChain.PredictedLabelColumn].GetKeyValues(ref keyValues);
        var names = keyValues.DenseValues().Select(v => v.ToString()).ToArray();
        foreach (uint key in scored.GetColumn<uint>(StockScoringChain.PredictedLabelColumn)) labels.Add(names[key - 1]);
        return (scored.GetColumn<float[]>(StockScoringChain.ScoreColumn).ToArray(), labels.ToArray());
    }

    [Fact]
    public void EventFixture_ReadsBackEveryLoggedValue()
    {
        var events = TensorBoardEventReader.ReadEvents(Fixture(FormatFixtures.EventFile));

        Assert.Equal(6, events.Count);
        Assert.Equal(("brain.Event:2", 1_700_000_000.25), (events[0].FileVersion, events[0].WallTime));
        Assert.Empty(events[0].Values);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, events.Skip(1).Select(e => e.Step));
        Assert.Equal(1_700_000_000.25, events[1].WallTime);
        Assert.All(events.Skip(2), e => Assert.Equal(1_700_000_001.75, e.WallTime));
        Assert.Equal(("train_loss", 1.25f), (events[1].Values.Single().Tag, events[1].Values.Single().SimpleValue!.Value));
        Assert.Equal(new[] { ("lr_0", 1e-3f), ("mom_0", 0.95f) }, events[2].Values.Select(v => (v.Tag, v.SimpleValue!.Value)));
        var image = Assert.Single(events[3].Values);
        Assert.Equal("sample", image.Tag);
        Assert.Equal((2, 3, 3), (image.Image!.Height, image.Image.Width, image.Image.Colorspace));
        Assert.Equal(FormatFixtures.EventImage, image.Image.EncodedImage);
        var text = Assert.Single(events[4].Values);
        Assert.Equal(("notes", FormatFixtures.EventText, "text"), (text.Tag, text.Text, text.PluginName));
        var zero = Assert.Single(events[5].Values);
        Assert.Equal(("valid_loss", 0f), (zero.Tag, zero.SimpleValue));
    }

    [Fact]
    public void CheckpointFixture_LoadsIntoANewLearner()
    {
        string checkpoint = FormatFixtures.UnpackCheckpoint(_dir);
        using var data = FormatFixtures.CheckpointData();
        using var learner = Learner.Vision(data, FormatFixtures.CheckpointOptions(_dir));

        learner.Load(checkpoint);

        int compared = 0;
        foreach (var (name, value) in learner.Model.state_dict().Where(kv => kv.Value.dtype == ScalarType.Float32))
        {
            using var expected = FormatFixtures.Pattern(value.shape);
            Assert.True(value.eq(expected).all().item<bool>(), $"{name} differs from the weights the fixture was saved with");
            compared++;
        }
        Assert.True(compared > 20, $"only {compared} float tensors compared");

        // The checkpoint predates the learner's own generator: the process-wide generator state it saved under "cpu"
        // becomes the learner generator's state, so a resumed run still continues one random stream.
        using var zip = ZipFile.OpenRead(checkpoint);
        using var rngEntry = new MemoryStream();
        using (var stream = zip.GetEntry("rng.bin")!.Open()) stream.CopyTo(rngEntry);
        rngEntry.Position = 0;
        var saved = MLNet.FastAi.Vision.Pretrained.TorchSharpStateDict.Read(rngEntry, "rng.bin");
        var (_, state) = learner.GeneratorState();
        using (state) Assert.True(state.eq(Assert.Single(saved, kv => kv.Key == "cpu").Value).all().item<bool>(), "the saved random state was not restored");
    }
}
