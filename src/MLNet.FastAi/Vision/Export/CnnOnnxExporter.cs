using System.Reflection;
using System.Text.Json;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Vision.Modules;
using static TorchSharp.torch;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Vision.Export.Int8;

namespace MLNet.FastAi.Vision.Export;

/// <summary>
/// Exports a <see cref="CnnModel"/> as it predicts in eval mode (batch norm on running statistics, dropout off) to an
/// ONNX graph (opset 13) that takes raw 0..255 planar RGB pixels and returns class probabilities.
/// </summary>
/// <remarks>
/// <para>
/// The graph scales and normalizes its input itself (<c>x · 1/(255·std) − mean/std</c>, one Mul and one Add per
/// channel), so that it consumes exactly what ML.NET's <c>ExtractPixels</c> produces. The float32 graph does not fold
/// the normalization into the stem convolution, whose zero padding would then pad with black instead of the normalized
/// 0; the int8 graph does, and writes that padding out (<see cref="QdqWriter.PixelConv"/>).
/// </para>
/// <para>
/// Every batch norm is folded into the layer it touches: a BatchNorm2d into the convolution before it
/// (<c>W·γ/√(σ²+ε)</c>, bias <c>β − μ·γ/√(σ²+ε)</c>), each BatchNorm1d of the head into the linear layer after it
/// (<c>W·diag(a)</c>, bias <c>W·c</c> for <c>BN(x) = a⊙x + c</c>). Folding is computed in double precision; the graph
/// is a plain chain of Conv, Relu, MaxPool, Add, global pools, Gemm and Softmax.
/// </para>
/// <para>
/// A LabelEncoder node named <c>mlnet.{score}.SlotNames</c> carries the class names: ML.NET's OnnxTransformer reads
/// such a node (the convention of ML.NET's own ONNX export) and gives the score column its <c>SlotNames</c>.
/// </para>
/// </remarks>
internal static class CnnOnnxExporter
{
    /// <summary>Metadata key holding the class names as a JSON array, in score order.</summary>
    public const string ClassesMetadataKey = "mlnet_fastai.classes";

    /// <summary>Metadata key holding the expected input as text, e.g. "pixels: FLOAT [batch, 3, 224, 224], planar RGB 0..255".</summary>
    public const string InputMetadataKey = "mlnet_fastai.input";

    public static byte[] ExportBytes(CnnModel model, int width, int height, NormalizationStats normalization,
        IReadOnlyList<string> classNames, CnnOnnxSignature signature, CalibrationStatistics? int8 = null) =>
        OnnxModelWriter.Write(Export(model, width, height, normalization, classNames, signature, int8));

    /// <summary>The network as an ONNX model with <paramref name="signature"/>; with <paramref name="int8"/> calibration, its body in int8 (QDQ).</summary>
    /// <remarks>The head, a few thousandths of the work, stays float32 in either case.</remarks>
    public static ModelProto Export(CnnModel model, int width, int height, NormalizationStats normalization,
        IReadOnlyList<string> classNames, CnnOnnxSignature signature, CalibrationStatistics? int8 = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(normalization);
        ArgumentNullException.ThrowIfNull(signature);
        new ImagePipeline(width, height).Validate();
        normalization.Validate();
        CheckClassNames(classNames, model.Head.Classes);
        if (model.Body.StemConv.in_channels != 3)
            throw new NotSupportedException($"Only 3-channel (RGB) models can be exported; this one takes {model.Body.StemConv.in_channels} channels.");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var b = new OnnxGraphBuilder("fastai_cnn");
        OnnxDim batch = signature.Batched ? new OnnxDim(null, "batch") : new OnnxDim(1, null);
        string pixels = b.AddInput(signature.PixelsInput, OnnxDataType.Float, batch, 3, height, width);
        // In int8 the normalization is folded into the first convolution, which reads the pixels (QdqWriter.PixelConv).
        var qdq = int8 is null ? null : new QdqWriter(b, int8, normalization);
        string x = CnnOnnxLayers.Body(b, model.Body, qdq is null ? Normalize(b, pixels, normalization) : pixels, qdq);
        string logits = CnnOnnxLayers.Head(b, model.Head, x);
        string probabilities = b.Softmax(logits, 1, "softmax");
        AddOutputs(b, probabilities, classNames, signature, batch);

        var onnx = b.BuildModel("MLNet.FastAi", PackageVersion());
        onnx.MetadataProps.Add(new StringStringEntryProto { Key = ClassesMetadataKey, Value = JsonSerializer.Serialize(classNames) });
        onnx.MetadataProps.Add(new StringStringEntryProto
        {
            Key = InputMetadataKey,
            Value = $"{signature.PixelsInput}: FLOAT [{(signature.Batched ? "batch" : "1")}, 3, {height}, {width}], planar RGB 0..255 " +
                    $"(normalized inside the graph with {normalization})",
        });
        return onnx;
    }

    /// <summary>Class names must match the head, be non-empty and distinct: they become key values and slot names.</summary>
    internal static void CheckClassNames(IReadOnlyList<string> classNames, int expectedCount)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count != expectedCount)
            throw new ArgumentException($"The model predicts {expectedCount} classes but {classNames.Count} class names were given.", nameof(classNames));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            if (string.IsNullOrEmpty(classNames[i]))
                throw new ArgumentException($"Class name #{i} is empty; every class needs a name.", nameof(classNames));
            if (!seen.Add(classNames[i]))
                throw new ArgumentException($"Class name '{classNames[i]}' appears more than once; class names must be distinct.", nameof(classNames));
        }
    }

    private static string Normalize(OnnxGraphBuilder b, string pixels, NormalizationStats stats)
    {
        var scale = new float[3];
        var offset = new float[3];
        for (int c = 0; c < 3; c++)
        {
            var (pixelScale, pixelOffset) = stats.PixelAffineOf(c);
            (scale[c], offset[c]) = ((float)pixelScale, (float)pixelOffset);
        }
        string scaled = b.Mul(pixels, b.AddInitializer(scale, [1, 3, 1, 1], "input.scale"), "input.scale");
        return b.Add(scaled, b.AddInitializer(offset, [1, 3, 1, 1], "input.offset"), "input.offset");
    }

    private static void AddOutputs(OnnxGraphBuilder b, string probabilities, IReadOnlyList<string> classNames, CnnOnnxSignature signature, OnnxDim batch)
    {
        long classes = classNames.Count;
        string names = b.AddInitializer(classNames.ToArray(), [classes], "class_names");
        if (signature.Batched)
        {
            b.AddOutput(b.Identity(probabilities, signature.ScoreOutput), OnnxDataType.Float, batch, classes);
        }
        else
        {
            string flat = b.Reshape(probabilities, [classes], "score.flatten");
            b.AddOutput(b.Identity(flat, signature.ScoreOutput), OnnxDataType.Float, classes);
        }

        // ArgMax of the probabilities, not the logits, so the prediction always agrees with the score that leaves the graph.
        string index = b.ArgMax(probabilities, 1, keepDims: false, name: "predicted_index");
        if (signature.PredictedIndexOutput is { } indexName)
            b.AddOutput(b.Identity(index, indexName), OnnxDataType.Int64, batch);
        if (signature.PredictedLabelOutput is { } labelName)
            b.AddOutput(b.Identity(b.Gather(names, index, name: "predicted_label"), labelName), OnnxDataType.String, batch);
        if (signature.PredictedOneHotOutput is { } oneHotName)
        {
            string oneHot = b.OneHot(index, classes, "predicted_one_hot");
            if (signature.Batched)
            {
                b.AddOutput(b.Identity(oneHot, oneHotName), OnnxDataType.Float, batch, classes);
            }
            else
            {
                string flat = b.Reshape(oneHot, [classes], "predicted_one_hot.flatten");
                b.AddOutput(b.Identity(flat, oneHotName), OnnxDataType.Float, classes);
            }
        }

        // Never computed into an output: ML.NET reads the node's keys from the graph to name the score's slots.
        b.LabelEncoder(names, classNames, Enumerable.Range(0, classNames.Count).Select(i => (long)i).ToArray(),
            name: $"mlnet.{signature.ScoreOutput}.SlotNames", outputName: $"mlnet.{signature.ScoreOutput}.unusedOutput");
    }

    private static string PackageVersion() =>
        typeof(CnnOnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "";
}
