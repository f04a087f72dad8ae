using MLNet.FastAi.Scoring;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Tests.Interpretation.Plots;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Tests.Onnx;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>One exported model, a few PNGs and the fitted stock chain, shared by the tests of <see cref="StockScoringChainTests"/>.</summary>
public sealed class StockScoringFixture : IDisposable
{
    public static readonly string[] Classes = ["zebra", "ant", "cat"];  // deliberately not sorted: key order must follow this list
    public static readonly NormalizationStats Stats = NormalizationStats.ImageNet;
    public static readonly ImagePipeline Pipeline = new(32, 24);

    public StockScoringFixture()
    {
        Folder = Path.Combine(Path.GetTempPath(), $"fastai-stock-{Guid.NewGuid():N}");
        string[] files = TestImages.Write(Folder, 7, seed: 11);
        Rows = files.Select((file, i) => new ImageRow { ImagePath = file, Label = Classes[i % Classes.Length] }).ToArray();
        Context = new MLContext(seed: 1);
        Data = Context.Data.LoadFromEnumerable(Rows);
        Model = TestCnn.Create(ResNetArchitecture.ResNet18, Classes.Length, Pipeline.Height, Pipeline.Width, seed: 21, Stats);
        Chain = StockScoringChain.Fit(Context, Data, nameof(ImageRow.ImagePath), Folder, Pipeline, Model, Stats, Classes);
        Scored = Chain.Transform(Data);
        Scores = Scored.GetColumn<float[]>(StockScoringChain.ScoreColumn).ToArray();
        Predicted = Scored.GetColumn<uint>(StockScoringChain.PredictedLabelColumn).ToArray();
    }

    public string Folder { get; }
    public ImageRow[] Rows { get; }
    public MLContext Context { get; }
    public IDataView Data { get; }
    internal CnnModel Model { get; }
    public TransformerChain<ITransformer> Chain { get; }
    public IDataView Scored { get; }
    public float[][] Scores { get; }
    public uint[] Predicted { get; }

    /// <summary>Class names as a one-column view, for MapValueToKey's keyData (keys in class order).</summary>
    public IDataView ClassList(MLContext context) => context.Data.LoadFromEnumerable(Classes.Select(c => new ClassName { Value = c }));

    public void Dispose()
    {
        Chain.Dispose();
        Model.Dispose();
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public sealed class ClassName
    {
        public string Value { get; set; } = "";
    }
}

/// <summary>The stock ML.NET scoring chain: ML.NET's multiclass output contract, saved and loaded without this package's types.</summary>
public class StockScoringChainTests(StockScoringFixture fixture, ITestOutputHelper output) : IClassFixture<StockScoringFixture>
{
    private static readonly string[] Classes = StockScoringFixture.Classes;

    [Fact]
    public void Score_HasTheClassNamesAsSlotNames_AndMatchesTorchSharpOnTheSamePixels()
    {
        var column = fixture.Scored.Schema[StockScoringChain.ScoreColumn];
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, Classes.Length), column.Type);
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetSlotNames(ref slotNames);
        Assert.Equal(Classes, slotNames.DenseValues().Select(n => n.ToString()));

        // The pixels ML.NET itself decodes, through the same ImageAnalytics chain, fed to the TorchSharp model.
        var decode = StockScoringFixture.Pipeline.BuildEstimator(fixture.Context, nameof(StockScoringFixture.ImageRow.ImagePath), true, "Pixels", asFloat: true, fixture.Folder);
        float[][] pixels = decode.Fit(fixture.Data).Transform(fixture.Data).GetColumn<float[]>("Pixels").ToArray();
        using var scope = NewDisposeScope();
        var batch = tensor(pixels.SelectMany(p => p).ToArray()).reshape(pixels.Length, 3, StockScoringFixture.Pipeline.Height, StockScoringFixture.Pipeline.Width);
        float[] expected = TestCnn.Probabilities(fixture.Model, batch, StockScoringFixture.Stats);

        float[] actual = fixture.Scores.SelectMany(s => s).ToArray();
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"ML.NET chain vs TorchSharp on ML.NET-decoded pixels: max diff {maxDiff:E2}");
        Assert.True(maxDiff < Tolerances.Probability, $"max |ML.NET - TorchSharp| = {maxDiff}");
        Assert.All(fixture.Scores, s => Assert.Equal(1.0, s.Sum(), 4));
        Assert.True(actual.Max() - actual.Min() > 0.05, "scores nearly uniform: the comparison would prove little");
    }

    [Fact]
    public void PredictedLabel_IsAKeyOverTheClassNames_AtTheArgmaxOfScore()
    {
        var column = fixture.Scored.Schema[StockScoringChain.PredictedLabelColumn];
        var key = Assert.IsType<KeyDataViewType>(column.Type);
        Assert.Equal((typeof(uint), (ulong)Classes.Length), (key.RawType, key.Count));
        var keyValues = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetKeyValues(ref keyValues);
        Assert.Equal(Classes, keyValues.DenseValues().Select(v => v.ToString()));

        for (int i = 0; i < fixture.Scores.Length; i++)
            Assert.Equal((uint)Array.IndexOf(fixture.Scores[i], fixture.Scores[i].Max()) + 1, fixture.Predicted[i]);
        var names = fixture.Context.Transforms.Conversion.MapKeyToValue(StockScoringChain.PredictedLabelColumn).Fit(fixture.Scored).Transform(fixture.Scored)
            .GetColumn<string>(StockScoringChain.PredictedLabelColumn).ToArray();
        Assert.Equal(fixture.Predicted.Select(k => Classes[k - 1]), names);
    }

    [Fact]
    public void Output_ShowsTheInputColumnsPlusScoreAndPredictedLabel_Only()
    {
        var visible = fixture.Scored.Schema.Where(c => !c.IsHidden).Select(c => c.Name).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { "ImagePath", "Label", "PredictedLabel", "Score" }, visible);
    }

    [Fact]
    public void Evaluate_ComputesAccuracyAndLogLoss_AndNamesTheClassesInTheConfusionMatrix()
    {
        var labeled = fixture.Context.Transforms.Conversion.MapValueToKey("Label", keyData: fixture.ClassList(fixture.Context))
            .Fit(fixture.Scored).Transform(fixture.Scored);
        var metrics = fixture.Context.MulticlassClassification.Evaluate(labeled);

        int[] truth = fixture.Rows.Select(r => Array.IndexOf(Classes, r.Label)).ToArray();
        double accuracy = truth.Select((t, i) => fixture.Predicted[i] == t + 1 ? 1.0 : 0.0).Average();
        double logLoss = truth.Select((t, i) => -Math.Log(Math.Max(fixture.Scores[i][t], 1e-15))).Average();
        Assert.Equal(accuracy, metrics.MicroAccuracy, 9);
        Assert.Equal(logLoss, metrics.LogLoss, 4);
        Assert.Equal(fixture.Rows.Length, metrics.ConfusionMatrix.Counts.SelectMany(r => r).Sum());
        for (int t = 0; t < Classes.Length; t++)
            for (int p = 0; p < Classes.Length; p++)
                Assert.Equal(truth.Where((x, i) => x == t && fixture.Predicted[i] == p + 1).Count(), metrics.ConfusionMatrix.Counts[t][p]);
        string table = metrics.ConfusionMatrix.GetFormattedConfusionTable();
        output.WriteLine(table);
        Assert.All(Classes, name => Assert.Contains(name, table));
    }

    [Fact]
    public void SavedZip_LoadsInAFreshContext_WithIdenticalScores_AndServesAPredictionEngine()
    {
        string zip = Path.Combine(fixture.Folder, "model.zip");
        fixture.Context.Model.Save(fixture.Chain, fixture.Data.Schema, zip);

        var context = new MLContext();
        var loaded = context.Model.Load(zip, out var inputSchema);
        using var release = loaded as IDisposable;
        Assert.Equal(new[] { "ImagePath", "Label" }, inputSchema.Select(c => c.Name));
        var scored = loaded.Transform(context.Data.LoadFromEnumerable(fixture.Rows));
        Assert.Equal(fixture.Scores, scored.GetColumn<float[]>("Score").ToArray());
        Assert.Equal(fixture.Predicted, scored.GetColumn<uint>("PredictedLabel").ToArray());

        var withNames = loaded.Append(context.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored));
        using var engine = context.Model.CreatePredictionEngine<StockScoringFixture.ImageRow, Prediction>(withNames);
        var prediction = engine.Predict(new StockScoringFixture.ImageRow { ImagePath = fixture.Rows[0].ImagePath });
        Assert.Equal(fixture.Scores[0], prediction.Score);
        Assert.Equal(Classes[fixture.Predicted[0] - 1], prediction.PredictedLabel);
    }

    [Fact]
    public void SavedZip_NamesNeitherThisPackageNorTorchSharp()
    {
        string zip = Path.Combine(fixture.Folder, "scan.zip");
        fixture.Context.Model.Save(fixture.Chain, fixture.Data.Schema, zip);
        using var archive = System.IO.Compression.ZipFile.OpenRead(zip);
        var contents = archive.Entries.Select(e =>
        {
            using var stream = e.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return (e.FullName, Bytes: buffer.ToArray());
        }).ToArray();

        static bool Mentions(byte[] bytes, string text) =>
            bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0 || bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(text)) >= 0;
        // The scan finds assembly names where ML.NET writes them (Model.key, UTF-16): the controls must be found for the absence to mean anything.
        Assert.Contains(contents, c => Mentions(c.Bytes, "Microsoft.ML.OnnxTransformer"));
        Assert.Contains(contents, c => Mentions(c.Bytes, "Microsoft.ML.ImageAnalytics"));
        // The embedded ONNX graph names this package as its producer (provenance, read by no loader): it is checked for standard operators instead.
        var onnx = Assert.Single(contents, c => c.FullName.EndsWith("/OnnxModel", StringComparison.Ordinal));
        // ML.NET stores it as a byte array: a 32-bit length, then the .onnx file's bytes.
        Assert.Equal(onnx.Bytes.Length - 4, BitConverter.ToInt32(onnx.Bytes, 0));
        var graph = OnnxModelReader.Read(onnx.Bytes.AsSpan(4), "embedded ONNX model");
        Assert.Equal(new[] { "", OnnxGraphBuilder.MLDomain }, graph.OperatorSets().Keys.Order());
        Assert.All(graph.Graph.Node, n => Assert.Contains(n.Domain, new[] { "", OnnxGraphBuilder.MLDomain }));
        foreach (var forbidden in new[] { "MLNet.FastAi", "TorchSharp" })
            Assert.DoesNotContain(contents, c => c != onnx && (Mentions(c.Bytes, forbidden) || c.FullName.Contains(forbidden, StringComparison.Ordinal)));
    }

    [Fact]
    public void LoadedImageColumn_ScoresLikeThePathColumn()
    {
        var context = fixture.Context;
        var images = context.Transforms.LoadImages("Image", fixture.Folder, nameof(StockScoringFixture.ImageRow.ImagePath)).Fit(fixture.Data).Transform(fixture.Data);
        using var chain = StockScoringChain.Fit(context, images, "Image", "", StockScoringFixture.Pipeline, fixture.Model, StockScoringFixture.Stats, Classes);
        var scored = chain.Transform(images);

        Assert.Equal(fixture.Scores, scored.GetColumn<float[]>("Score").ToArray());
        Assert.Equal(fixture.Predicted, scored.GetColumn<uint>("PredictedLabel").ToArray());
    }

    [Fact]
    public void TheChain_KeepsOneCopyOfTheNetworkInTheContextsTemporaryFolder_AndDeletesItWhenDisposed()
    {
        using var temporary = new TemporaryFolder();
        var context = new MLContext(seed: 1) { TempFilePath = temporary.Path };
        var chain = StockScoringChain.Fit(context, fixture.Data, nameof(StockScoringFixture.ImageRow.ImagePath), fixture.Folder,
            StockScoringFixture.Pipeline, fixture.Model, StockScoringFixture.Stats, Classes);
        string[] whileAlive = Directory.GetFileSystemEntries(temporary.Path);
        string saved = Path.Combine(temporary.Path, "model.zip");
        context.Model.Save(chain, fixture.Data.Schema, saved);
        Assert.Equal(fixture.Scores, chain.Transform(fixture.Data).GetColumn<float[]>(StockScoringChain.ScoreColumn).ToArray());
        chain.Dispose();
        File.Delete(saved);

        // ML.NET's OnnxTransformer reads the network from that copy when the chain is saved, so it must exist until then.
        Assert.Single(whileAlive);
        Assert.Empty(Directory.GetFileSystemEntries(temporary.Path));
    }

    [Fact]
    public void StandaloneOnnx_RunsUnderApplyOnnxModel_WithClassNamesAsSlotNames()
    {
        // ML.NET 6.0's ApplyOnnxModel(Stream) leaves its copy of the model in the context's temporary folder.
        using var temporary = new TemporaryFolder();
        var context = new MLContext(seed: 1) { TempFilePath = temporary.Path };
        var pipeline = StockScoringFixture.Pipeline;
        byte[] onnx = CnnOnnxExport.ToBytes(fixture.Model, pipeline, StockScoringFixture.Stats, Classes);
        // A symbolic batch axis is fed as 1 by the OnnxTransformer, and comes out as a [1, K] vector.
        using var model = pipeline.BuildEstimator(context, nameof(StockScoringFixture.ImageRow.ImagePath), true, "pixels", asFloat: true, fixture.Folder)
            .Append(context.Transforms.ApplyOnnxModel("Score", "pixels", new MemoryStream(onnx)))
            .Fit(fixture.Data);
        var scored = model.Transform(fixture.Data);

        var column = scored.Schema["Score"];
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, Classes.Length), column.Type);
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetSlotNames(ref slotNames);
        Assert.Equal(Classes, slotNames.DenseValues().Select(n => n.ToString()));
        Assert.Equal(fixture.Scores, scored.GetColumn<float[]>("Score").ToArray());
    }

    [Fact]
    public void Fit_NamesTheColumnOrModelAtFault()
    {
        var context = fixture.Context;
        var pipeline = StockScoringFixture.Pipeline;
        var missing = Assert.Throws<ArgumentException>(() => StockScoringChain.Fit(context, fixture.Data, "Picture", "", pipeline, fixture.Model, StockScoringFixture.Stats, Classes));
        Assert.Contains("no column 'Picture'", missing.Message);
        var numbers = context.Data.LoadFromEnumerable(new[] { new { Picture = 1f } });
        var wrongType = Assert.Throws<ArgumentException>(() => StockScoringChain.Fit(context, numbers, "Picture", "", pipeline, fixture.Model, StockScoringFixture.Stats, Classes));
        Assert.Contains("Column 'Picture' holds Single", wrongType.Message);

        byte[] standalone = CnnOnnxExporter.ExportBytes(fixture.Model, pipeline.Width, pipeline.Height, StockScoringFixture.Stats, Classes, CnnOnnxSignature.Standalone);
        var wrongSignature = Assert.Throws<ArgumentException>(() => StockScoringChain.Fit(context, fixture.Data, "ImagePath", "", pipeline, standalone, Classes));
        Assert.Contains("no input '__FastAiPixels'", wrongSignature.Message);
        byte[] row = CnnOnnxExporter.ExportBytes(fixture.Model, pipeline.Width, pipeline.Height, StockScoringFixture.Stats, Classes, CnnOnnxSignature.MLNetRow);
        var wrongSize = Assert.Throws<ArgumentException>(() => StockScoringChain.Fit(context, fixture.Data, "ImagePath", "", new ImagePipeline(16, 16), row, Classes));
        Assert.Contains("image size and class count must match", wrongSize.Message);
    }

    [Fact]
    public void PredictedLabelLookup_MapsEveryOneHotToItsClass_ForManyClasses()
    {
        string[] classes = Enumerable.Range(0, 257).Select(i => $"class {256 - i}").ToArray();
        var context = new MLContext(seed: 3);
        var lookup = PredictedLabelLookup.Fit(context, classes, "OneHot");
        var schema = lookup.GetOutputSchema(DataViewSchemaWith("OneHot", classes.Length));
        var keyValues = default(VBuffer<ReadOnlyMemory<char>>);
        schema["PredictedLabel"].GetKeyValues(ref keyValues);
        Assert.Equal(classes, keyValues.DenseValues().Select(v => v.ToString()));

        // The test's own check, not only the one Fit makes: basis vector i becomes key i + 1 (class i), for all 257.
        var rows = Enumerable.Range(0, classes.Length).Select(i => new OneHotRow { OneHot = Enumerable.Range(0, classes.Length).Select(j => j == i ? 1f : 0f).ToArray() });
        var definition = SchemaDefinition.Create(typeof(OneHotRow));
        definition[nameof(OneHotRow.OneHot)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, classes.Length);
        var mapped = lookup.Transform(context.Data.LoadFromEnumerable(rows, definition));
        Assert.Equal(Enumerable.Range(1, classes.Length).Select(k => (uint)k), mapped.GetColumn<uint>("PredictedLabel"));
    }

    private sealed class OneHotRow
    {
        public float[] OneHot { get; set; } = [];
    }

    private static DataViewSchema DataViewSchemaWith(string column, int size)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(column, new VectorDataViewType(NumberDataViewType.Single, size));
        return builder.ToSchema();
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}
