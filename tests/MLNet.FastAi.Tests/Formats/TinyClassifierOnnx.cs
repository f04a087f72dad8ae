using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Tests.Formats;

/// <summary>
/// A small image classifier graph in the ML.NET row signature (<see cref="CnnOnnxSignature.MLNetRow"/>), made with
/// <see cref="OnnxGraphBuilder"/> from weights given by formulas, so the same graph can be built again at any time and
/// compared with the fixture file written by an earlier version of the writer. It uses every attribute kind and every
/// tensor type the package writes.
/// </summary>
internal static class TinyClassifierOnnx
{
    public const int Size = 8, Channels = 4;
    public static readonly string[] Classes = ["zebra", "ant", "cat"];

    public static ModelProto Build()
    {
        var signature = CnnOnnxSignature.MLNetRow;
        int classes = Classes.Length;
        var b = new OnnxGraphBuilder("tiny_classifier");
        string pixels = b.AddInput(signature.PixelsInput, OnnxDataType.Float, 1, 3, Size, Size);
        string x = b.Mul(pixels, b.AddInitializer(Values(3, 0.0004f, 1.1f, 1f / 255f), [1, 3, 1, 1], "input.scale"), "input.scale");
        x = b.Sub(x, b.Constant(OnnxTensor.FromFloats("half", [0.5f], 1), "input.center"));
        x = b.Conv(x, Values(Channels * 3 * 3 * 3, 0.3f, 0.7f), [Channels, 3, 3, 3], Values(Channels, 0.05f, 0.3f), pads: [1, 1, 1, 1], name: "conv");
        x = b.BatchNormalization(x, Values(Channels, 0.2f, 1.1f, 1f), Values(Channels, 0.1f, 1.3f), Values(Channels, 0.1f, 0.9f),
            Values(Channels, 0.3f, 0.5f, 1f), 1e-5f, "norm");
        x = b.Relu(x, "relu");
        x = b.MaxPool(x, [2, 2], strides: [2, 2], name: "pool");
        x = b.Flatten(b.GlobalAveragePool(x, "gap"), 1, "flatten");
        string logits = b.Gemm(x, Values(classes * Channels, 0.8f, 0.37f), [classes, Channels], Values(classes, 0.1f, 2.1f), "fc");
        string probabilities = b.Softmax(logits, 1, "softmax");
        string score = b.Reshape(probabilities, [classes], "score.flatten");
        b.AddOutput(b.Identity(score, signature.ScoreOutput), OnnxDataType.Float, classes);
        string index = b.ArgMax(probabilities, 1, keepDims: false, name: "predicted_index");
        string oneHot = b.Reshape(b.OneHot(index, classes, "predicted_one_hot"), [classes], "predicted_one_hot.flatten");
        b.AddOutput(b.Identity(oneHot, signature.PredictedOneHotOutput!), OnnxDataType.Float, classes);
        string names = b.AddInitializer(Classes, [classes], "class_names");
        b.LabelEncoder(names, Classes, Enumerable.Range(0, classes).Select(i => (long)i).ToArray(),
            name: $"mlnet.{signature.ScoreOutput}.SlotNames", outputName: $"mlnet.{signature.ScoreOutput}.unusedOutput");
        var model = b.BuildModel("MLNet.FastAi", "fixture");
        model.MetadataProps.Add(new StringStringEntryProto { Key = "mlnet_fastai.classes", Value = "[\"zebra\",\"ant\",\"cat\"]" });
        return model;
    }

    /// <summary>Deterministic values <c>offset + scale·sin(1 + i·step)</c>: no random generator involved.</summary>
    public static float[] Values(int count, float scale, float step, float offset = 0f) =>
        Enumerable.Range(0, count).Select(i => offset + scale * MathF.Sin(1f + i * step)).ToArray();
}
