using System.Reflection;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.StockConsumer.Tests;

/// <summary>A model zip saved by MLNet.FastAi, used by an application that has only stock ML.NET.</summary>
public class StockModelTests(StockModelFixture fixture, ITestOutputHelper output) : IClassFixture<StockModelFixture>
{
    private static readonly string[] ForbiddenAssemblies = ["MLNet.FastAi", "TorchSharp", "TorchVision"];

    private string[] Classes => fixture.Expected.Classes;

    [Fact]
    public void LoadedModel_ReproducesTheReferenceScores_AndPredictions()
    {
        var context = new MLContext();
        var model = fixture.Load(context, out var inputSchema);
        Assert.Equal(new[] { "ImagePath", "Label" }, inputSchema.Select(c => c.Name));
        var scored = model.Transform(context.Data.LoadFromEnumerable(fixture.Rows));

        float[][] scores = scored.GetColumn<float[]>("Score").ToArray();
        var expected = fixture.Expected.Images;
        Assert.Equal(expected.Length, scores.Length);
        double maxDiff = expected.Zip(scores, (e, s) => e.Score.Zip(s, (a, b) => Math.Abs(a - b)).Max()).Max();
        output.WriteLine($"max |stock ML.NET - TorchSharp reference| = {maxDiff:E2} over {scores.Length} images");
        Assert.True(maxDiff < Tolerances.Probability, $"max |stock ML.NET - TorchSharp reference| = {maxDiff}");
        var names = context.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored).GetColumn<string>("PredictedLabel");
        Assert.Equal(expected.Select(e => e.Predicted), names);
        Assert.Equal(expected.Select(e => Classes[Array.IndexOf(e.Score, e.Score.Max())]), names);
    }

    [Fact]
    public void Score_AndPredictedLabel_CarryTheClassNames_LikeAnMLNetTrainer()
    {
        var context = new MLContext();
        var schema = fixture.Load(context, out var inputSchema).GetOutputSchema(inputSchema);

        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, Classes.Length), schema["Score"].Type);
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        schema["Score"].GetSlotNames(ref slotNames);
        Assert.Equal(Classes, slotNames.DenseValues().Select(n => n.ToString()));

        var key = Assert.IsType<KeyDataViewType>(schema["PredictedLabel"].Type);
        Assert.Equal((typeof(uint), (ulong)Classes.Length), (key.RawType, key.Count));
        var keyValues = default(VBuffer<ReadOnlyMemory<char>>);
        schema["PredictedLabel"].GetKeyValues(ref keyValues);
        Assert.Equal(Classes, keyValues.DenseValues().Select(n => n.ToString()));
        Assert.Equal(new[] { "ImagePath", "Label", "PredictedLabel", "Score" }, schema.Where(c => !c.IsHidden).Select(c => c.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Evaluate_GivesAccuracy_AndAConfusionMatrixWithClassNames()
    {
        var context = new MLContext();
        var scored = fixture.Load(context, out _).Transform(context.Data.LoadFromEnumerable(fixture.Rows));
        var classList = context.Data.LoadFromEnumerable(Classes.Select(c => new { Value = c }));
        var labeled = context.Transforms.Conversion.MapValueToKey("Label", keyData: classList).Fit(scored).Transform(scored);

        var metrics = context.MulticlassClassification.Evaluate(labeled);

        var expected = fixture.Expected.Images;
        Assert.Equal(expected.Count(e => e.Predicted == e.Label) / (double)expected.Length, metrics.MicroAccuracy, 9);
        double logLoss = expected.Average(e => -Math.Log(e.Score[Array.IndexOf(Classes, e.Label)]));
        Assert.Equal(logLoss, metrics.LogLoss, 3);
        Assert.Equal(expected.Length, metrics.ConfusionMatrix.Counts.SelectMany(r => r).Sum());
        string table = metrics.ConfusionMatrix.GetFormattedConfusionTable();
        Assert.All(Classes, name => Assert.Contains(name, table));
    }

    [Fact]
    public void PredictionEngine_PredictsAClassName()
    {
        var context = new MLContext();
        var model = fixture.Load(context, out _);
        var withNames = model.Append(context.Transforms.Conversion.MapKeyToValue("PredictedLabel")
            .Fit(model.Transform(context.Data.LoadFromEnumerable(fixture.Rows.Take(1)))));
        using var engine = context.Model.CreatePredictionEngine<StockModelFixture.ImageRow, Prediction>(withNames);

        for (int i = 0; i < fixture.Rows.Length; i++)
        {
            var prediction = engine.Predict(new StockModelFixture.ImageRow { ImagePath = fixture.Rows[i].ImagePath });
            Assert.Equal(fixture.Expected.Images[i].Predicted, prediction.PredictedLabel);
            Assert.True(fixture.Expected.Images[i].Score.Zip(prediction.Score, (a, b) => Math.Abs(a - b)).Max() < Tolerances.Probability);
        }
    }

    [Fact]
    public void NothingOfThePackageOrTorchSharp_IsShippedOrLoaded()
    {
        var context = new MLContext();
        fixture.Load(context, out _).Transform(context.Data.LoadFromEnumerable(fixture.Rows)).GetColumn<float[]>("Score").ToArray();

        var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").ToArray();
        Assert.Contains("Microsoft.ML.OnnxTransformer", loaded);  // control: scoring really ran in this process
        Assert.DoesNotContain(loaded, name => ForbiddenAssemblies.Any(f => name == f || name.StartsWith(f + ".", StringComparison.Ordinal) && name != Assembly.GetExecutingAssembly().GetName().Name));
        var shipped = Directory.EnumerateFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories)
            .Where(path => !path.StartsWith(fixture.Folder, StringComparison.Ordinal))
            .Select(Path.GetFileName).ToArray();
        Assert.Contains("Microsoft.ML.OnnxTransformer.dll", shipped);
        Assert.DoesNotContain(shipped, file => file!.StartsWith("MLNet.FastAi.dll", StringComparison.Ordinal)
            || file.StartsWith("MLNet.FastAi.StockConsumer.Fixture", StringComparison.Ordinal)
            || file.Contains("TorchSharp", StringComparison.OrdinalIgnoreCase) || file.Contains("libtorch", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Zip_NamesNeitherThePackageNorTorchSharp()
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(fixture.ZipPath);
        var entries = archive.Entries.Select(e =>
        {
            using var stream = e.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return (e.FullName, Bytes: buffer.ToArray());
        }).ToArray();

        // ML.NET writes each loader's assembly name into Model.key as UTF-16: the controls prove the scan can see them.
        Assert.Contains(entries, e => Count(e.Bytes, Encoding.Unicode.GetBytes("Microsoft.ML.OnnxTransformer")) > 0);
        Assert.Contains(entries, e => Count(e.Bytes, Encoding.Unicode.GetBytes("Microsoft.ML.ImageAnalytics")) > 0);
        var onnx = Assert.Single(entries, e => e.FullName.EndsWith("/OnnxModel", StringComparison.Ordinal));
        foreach (var (name, bytes) in entries)
        {
            Assert.DoesNotContain("FastAi", name, StringComparison.Ordinal);
            Assert.Equal(0, Count(bytes, Encoding.UTF8.GetBytes("TorchSharp")) + Count(bytes, Encoding.Unicode.GetBytes("TorchSharp")));
            Assert.Equal(0, Count(bytes, Encoding.Unicode.GetBytes("MLNet.FastAi")));
            // The one UTF-8 mention allowed is the ONNX graph's producer_name (field 2, right after ir_version): provenance no loader reads.
            int expected = name == onnx.FullName ? 1 : 0;
            Assert.Equal(expected, Count(bytes, Encoding.UTF8.GetBytes("MLNet.FastAi")));
        }
        byte[] producer = [0x12, 12, .. Encoding.UTF8.GetBytes("MLNet.FastAi")];
        Assert.True(onnx.Bytes.AsSpan(4, 32).IndexOf(producer) >= 0, "the embedded ONNX graph should name its producer in its header");
    }

    private static int Count(byte[] haystack, byte[] needle)
    {
        int count = 0;
        for (int start = 0, at; (at = haystack.AsSpan(start).IndexOf(needle)) >= 0; start += at + needle.Length) count++;
        return count;
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}
