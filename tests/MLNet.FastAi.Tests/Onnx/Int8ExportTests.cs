using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using Xunit.Abstractions;
using System.IO.Compression;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Vision.Export;
using TorchSharp;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>
/// The int8 export: a QDQ graph ONNX Runtime fuses into int8 kernels, a quarter of the float32 weights' bytes, that
/// classifies like the float32 network and saves as a stock ML.NET zip.
/// </summary>
[Collection(SmallMnistCollection.Name)]
public sealed class Int8ExportTests(SmallMnistFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Int8Onnx_IsQdq_AQuarterOfTheWeights_AndClassifiesLikeFloat()
    {
        var lines = new List<string>();
        var learner = fixture.Trained;
        string float32 = learner.ExportOnnx(Path.Combine(_temp.Path, "float.onnx"));
        string int8 = learner.ExportOnnx(Path.Combine(_temp.Path, "int8.onnx"), int8: true);
        output.WriteLine($"float32 {new FileInfo(float32).Length:N0} bytes, int8 {new FileInfo(int8).Length:N0} bytes");

        var graph = OnnxModelReader.Read(int8).Graph;
        int convs = graph.Node.Count(n => n.OpType == "Conv");
        Assert.True(convs > 0);
        // Each convolution reads dequantized int8 weights and an int32 bias, and its input and output are quantized.
        Assert.Equal(2 * convs, graph.Node.Count(n => n.OpType == "DequantizeLinear" && (n.Name.EndsWith(".weight", StringComparison.Ordinal) || n.Name.EndsWith(".bias", StringComparison.Ordinal))));
        Assert.DoesNotContain(graph.Node, n => n.OpType == "Relu" && !n.Name.StartsWith("head.", StringComparison.Ordinal));
        // The stem reads the pixels themselves (exact in uint8 at scale 1), padded with the grey that normalizes to 0;
        // the normalization is folded into its weights, so no Mul scales the image.
        Assert.Contains(graph.Node, n => n.OpType == "Pad" && n.Name == "conv1.pad");
        Assert.Equal(1f, BitConverter.ToSingle(graph.Initializer.Single(t => t.Name == "conv1.input.q.scale").RawData.Span));
        Assert.DoesNotContain(graph.Node, n => n.OpType == "Mul");
        // The stem's weights are uint8 offset by 128, so that ONNX Runtime runs it on u8×u8 kernels, which cannot
        // saturate on CPUs without VNNI as its u8×s8 ones can on bright pixels; the other convolutions' are int8.
        var zeroPoints = graph.Initializer.Where(t => t.Name.EndsWith(".weight_zero_point", StringComparison.Ordinal)).ToList();
        Assert.Equal(convs, zeroPoints.Count);
        var stemZeroPoint = zeroPoints.Single(t => t.Name == "conv1.weight_zero_point");
        Assert.Equal(OnnxDataType.Uint8, stemZeroPoint.DataType);
        Assert.Equal(graph.Initializer.Single(t => t.Name == "conv1.weight_scale").Dims, stemZeroPoint.Dims);
        Assert.Equal(stemZeroPoint.Dims.Single(), stemZeroPoint.RawData.Length);
        Assert.All(stemZeroPoint.RawData.ToByteArray(), z => Assert.Equal(128, z));
        Assert.Equal(OnnxDataType.Uint8, graph.Initializer.Single(t => t.Name == "conv1.weight_quantized").DataType);
        Assert.All(zeroPoints.Where(t => t != stemZeroPoint), t => Assert.Equal(OnnxDataType.Int8, t.DataType));
        Assert.InRange((double)new FileInfo(int8).Length / new FileInfo(float32).Length, 0.2, 0.4);

        // As served: ONNX Runtime with every optimization, over the validation images.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var f = new InferenceSession(float32, options);
        using var q = new InferenceSession(int8, options);
        var floatScores = new List<float[]>();
        var int8Scores = new List<float[]>();
        int size = learner.Data.Pipeline.Width;
        foreach (var (pixels, count, _) in Int8Export.RawBatches(learner, learner.Data.Valid, int.MaxValue))
        {
            floatScores.AddRange(Scores(f, pixels, count, size));
            int8Scores.AddRange(Scores(q, pixels, count, size));
        }
        int n = floatScores.Count;
        Assert.Equal(learner.Data.Valid.Count, n);
        int agree = Enumerable.Range(0, n).Count(i => ArgMax(floatScores[i]) == ArgMax(int8Scores[i]));
        double largest = floatScores.Zip(int8Scores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        output.WriteLine($"predictions agree on {agree} of {n}; largest probability difference {largest:0.0000}");
        // 8-bit activations move this tiny network's probabilities by a few hundredths (0.031 on an AVX-512 VNNI CPU); a
        // broken scale, zero point or weight layout makes them noise, moving them by half their range. The bound leaves
        // room for CPUs without VNNI, whose u8s8 kernels may saturate 16-bit sums in the inner layers (ONNX Runtime's
        // quantization notes).
        // (Agreement is no test on a network 30% right: near-ties flip.)
        Assert.InRange(largest, 0, 0.25);

        // The stock zip: it loads with plain Model.Load and scores with the int8 network.
        var ml = new MLContext(seed: 1);
        string zip = learner.SaveMLNetModel(ml, Path.Combine(_temp.Path, "int8.zip"), int8: true);
        string floatZip = learner.SaveMLNetModel(ml, Path.Combine(_temp.Path, "float.zip"));
        Assert.InRange((double)new FileInfo(zip).Length / new FileInfo(floatZip).Length, 0.2, 0.45);
        var loaded = ml.Model.Load(zip, out _);
        var scored = loaded.Transform(learner.Data.Valid.ToDataView(ml));
        var zipScores = scored.GetColumn<float[]>("Score").ToList();
        Assert.Equal(n, zipScores.Count);
        double zipLargest = zipScores.Zip(int8Scores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        output.WriteLine($"zip {new FileInfo(zip).Length:N0} bytes against {new FileInfo(floatZip).Length:N0}; its scores differ from the int8 ONNX by at most {zipLargest:0.000000}");
        Assert.InRange(zipLargest, 0, 1e-4);
    }

    [Fact]
    public void ASecondInt8Save_WithTheSameWeights_ReusesTheCalibration_AndChangedWeightsCalibrateAgain()
    {
        var learner = fixture.Trained;
        var (first, firstReport, _) = Int8Export.Build(learner, CnnOnnxSignature.Standalone);
        var (again, againReport, reused) = Int8Export.Build(learner, CnnOnnxSignature.Standalone);
        Assert.True(reused);
        Assert.Same(firstReport, againReport);
        Assert.Equal(first, again);  // the same network from the kept scales

        // The collection's tests run one at a time, so the shared learner's weights may change here and be put back.
        var lastWeight = learner.CnnModel.Head.parameters().Last();
        using var kept = lastWeight.detach().clone();
        try
        {
            using (torch.no_grad()) lastWeight.add_(0.25);
            Assert.False(Int8Export.Build(learner, CnnOnnxSignature.MLNetRow).Reused);
        }
        finally
        {
            using (torch.no_grad()) lastWeight.copy_(kept);
        }
    }

    [Theory]
    [InlineData(50, 1, false)]      // one image of 50 is 2 points, and no evidence
    [InlineData(50, 2, true)]
    [InlineData(1000, 10, false)]   // exactly one point
    [InlineData(1000, 11, true)]
    [InlineData(1000, -5, false)]   // int8 better
    [InlineData(0, 0, false)]       // nothing to compare against
    public void TheAccuracyGuard_RefusesALossOverOnePointAndOverOneImage(int images, int lost, bool refused)
    {
        double floatAccuracy = images == 0 ? double.NaN : 0.9, int8Accuracy = images == 0 ? double.NaN : 0.9 - (double)lost / images;
        Assert.Equal(refused, Int8Export.Refuses(images, floatAccuracy, int8Accuracy));
        var report = new Int8Report(Int8Export.CalibrationImages, images, floatAccuracy, int8Accuracy);
        Assert.Equal(!refused, report.Accepted);
        Assert.Equal(refused, report.ToString().Contains("refused", StringComparison.Ordinal));
    }

    [Fact]
    public void ARefusal_GivesBothAccuracies_AndNamesTheOptionAsEachDoorDoes()
    {
        var report = new Int8Report(256, 200, 0.95, 0.90);
        var refusal = Int8Export.Refusal(report);
        Assert.Equal(OptionKey.Int8, refusal.Option);
        Assert.Contains("validation accuracy 0.9500 float32, 0.9000 int8 (200 images); refused: it loses 5.00 points, more than the 1.0 allowed, so it was not written", refusal.Message);
        Assert.EndsWith("set int8 = False.", refusal.MessageFor(OptionDoor.FastAi));
        Assert.EndsWith("set FastAiCnnOptions.Int8 = False.", refusal.MessageFor(OptionDoor.Estimator));
        Assert.EndsWith("leave out --int8.", refusal.MessageFor(OptionDoor.CommandLine));
    }

    [Fact]
    public void TheEstimatorsInt8Option_ScoresAndSavesTheNetworkItsReportNames()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(12)));
        var options = Options();
        options.Int8 = true;
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(keyed);

        var report = Assert.IsType<Int8Report>(model.Int8Report);
        output.WriteLine(report.ToString());
        Assert.Equal(model.Learner.Data.Valid.Count, report.ValidationImages);
        Assert.InRange(report.CalibrationImages, 1, Int8Export.CalibrationImages);
        string zip = Path.Combine(_temp.Path, "estimator-int8.zip");
        ml.Model.Save(model, keyed.Schema, zip);
        using (var archive = ZipFile.OpenRead(zip))
        using (var entry = new MemoryStream())
        {
            using (var stream = archive.Entries.Single(e => e.Name == "OnnxModel").Open()) stream.CopyTo(entry);
            var graph = OnnxModelReader.Read(entry.ToArray().AsSpan(sizeof(int)), "the saved network").Graph;
            // The zip holds int8 exactly when the guard accepted it (a tiny network near chance may be refused on some CPU).
            Assert.Equal(report.Accepted, graph.Node.Any(n => n.OpType == "QuantizeLinear"));
        }
        var inProcess = model.Transform(keyed).GetColumn<float[]>("Score").ToList();
        var loaded = ml.Model.Load(zip, out _).Transform(keyed).GetColumn<float[]>("Score").ToList();
        Assert.Equal(inProcess.Count, loaded.Count);
        Assert.All(inProcess.Zip(loaded), p => Assert.Equal(p.First, p.Second));
    }

    private static IEnumerable<float[]> Scores(InferenceSession session, float[] pixels, int count, int size)
    {
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(pixels, [count, 3, size, size]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", input)], ["Score"]);
        var scores = results[0].AsTensor<float>().ToArray();
        int classes = scores.Length / count;
        return Enumerable.Range(0, count).Select(i => scores.AsSpan(i * classes, classes).ToArray()).ToList();
    }

    private static int ArgMax(float[] row) => Array.IndexOf(row, row.Max());
}
