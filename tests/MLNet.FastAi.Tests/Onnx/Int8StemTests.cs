using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Data;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Vision.Export.Int8;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>The int8 stem: raw pixels in, normalization folded, weights rounded with compensation, bias corrected.</summary>
public sealed class Int8StemTests(ITestOutputHelper output)
{
    [Fact]
    public void TheInt8Stem_KeepsEachOutputChannelsMean_OnTheCalibrationImages()
    {
        // Means that are whole grey levels, so that the float graph's zero padding (the normalized mean) and the int8
        // graph's written-out padding are the same pixels: the two stems then differ only by their weights' rounding,
        // whose mean shift the bias correction takes back, up to the int32 bias's own rounding (half a step of
        // pixel scale 1 × weight scale) and float32 sums.
        var stats = new NormalizationStats([124f / 255, 116f / 255, 104f / 255], [0.229f, 0.224f, 0.225f]);
        const int size = 32, images = 16;
        using var model = TestCnn.Create(ResNetArchitecture.ResNet18, 3, size, size, seed: 2, stats);
        string[] classes = ["a", "b", "c"];
        var floatModel = CnnOnnxExporter.Export(model, size, size, stats, classes, CnnOnnxSignature.Standalone);
        float[] pixels;
        using (var scope = NewDisposeScope())
            pixels = TestCnn.RandomPixels(images, size, size).round_().data<float>().ToArray();
        var calibration = CalibrationStatistics.Calibrate(floatModel, CnnOnnxSignature.Standalone.PixelsInput, [(pixels, images)], size, size, stats);
        var int8Model = CnnOnnxExporter.Export(model, size, size, stats, classes, CnnOnnxSignature.Standalone, calibration);

        double[] floatMeans = StemMeans(floatModel, pixels, images, size);
        double[] int8Means = StemMeans(int8Model, pixels, images, size);
        var weightScales = FloatsOf(int8Model, "conv1.weight_scale");
        Assert.Equal(floatMeans.Length, weightScales.Length);
        double worst = 0;
        for (int c = 0; c < floatMeans.Length; c++)
        {
            double gap = Math.Abs(int8Means[c] - floatMeans[c]);
            double bound = 0.5 * weightScales[c] + 1e-4 * (1 + Math.Abs(floatMeans[c]));
            worst = Math.Max(worst, gap / bound);
            Assert.True(gap <= bound, $"channel {c}: int8 mean {int8Means[c]:G6}, float32 {floatMeans[c]:G6}, allowed {bound:G3}");
        }
        output.WriteLine($"{floatMeans.Length} channels; the largest gap is {worst:0.00} of its bound");
    }

    /// <summary>Each output channel's mean of the stem's convolution (before its activation) over <paramref name="images"/>.</summary>
    private static double[] StemMeans(ModelProto onnx, float[] pixels, int images, int size)
    {
        var model = onnx.Clone();
        string stem = model.Graph.Node.First(n => n.OpType == "Conv" && n.Name == "conv1").Output[0];
        model.Graph.Output.Add(new ValueInfoProto { Name = stem, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } } });
        // Optimizations off: the QDQ graph computed as written, in float, so that nothing but the quantization differs.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(OnnxModelWriter.Write(model), options);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(CnnOnnxSignature.Standalone.PixelsInput,
            new DenseTensor<float>(pixels, [images, 3, size, size]))], [stem]);
        var tensor = results[0].AsTensor<float>();
        int channels = tensor.Dimensions[1], plane = tensor.Dimensions[2] * tensor.Dimensions[3];
        var values = ((DenseTensor<float>)tensor).Buffer.Span;
        var means = new double[channels];
        for (int i = 0; i < values.Length; i++) means[i / plane % channels] += values[i];
        int perChannel = values.Length / channels;
        return means.Select(sum => sum / perChannel).ToArray();
    }

    private static float[] FloatsOf(ModelProto model, string initializer)
    {
        var bytes = model.Graph.Initializer.Single(t => t.Name == initializer).RawData.Span;
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
