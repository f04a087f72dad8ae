using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision.Modules;
using static TorchSharp.torch;
using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export;

/// <summary>
/// Exports a trained image classifier to ONNX, to run with ONNX Runtime (or ML.NET's <c>ApplyOnnxModel</c>) without
/// TorchSharp or this package.
/// </summary>
/// <remarks>
/// <para>The graph (opset 13) has one input and three outputs:</para>
/// <list type="bullet">
/// <item><c>pixels</c>: FLOAT <c>[batch, 3, height, width]</c>, planar R, G, B values in 0..255 — what ML.NET's
/// <c>ExtractPixels</c> gives with <c>interleavePixelColors: false</c> and <c>outputAsFloatArray: true</c>. Scaling
/// and normalization happen inside the graph.</item>
/// <item><c>Score</c>: FLOAT <c>[batch, classes]</c>, softmax probabilities in class order.</item>
/// <item><c>PredictedIndex</c>: INT64 <c>[batch]</c>, the most probable class.</item>
/// <item><c>PredictedLabel</c>: STRING <c>[batch]</c>, its name.</item>
/// </list>
/// <para>
/// The model is exported as it predicts: batch norm with its running statistics (folded into the layers), dropout off.
/// The class names are also stored in the model's metadata under <c>mlnet_fastai.classes</c> (a JSON array), and
/// ML.NET's <c>ApplyOnnxModel</c> shows them as the <c>Score</c> column's slot names.
/// </para>
/// </remarks>
internal static class CnnOnnxExport
{
    /// <summary>Writes the ONNX model to <paramref name="path"/> (atomically: beside it first, then moved over it).</summary>
    /// <param name="model">The trained network (a learner's <c>Model</c>): a ResNet body with fastai's head.</param>
    /// <param name="pipeline">The image size the model was trained at (its resize method is the caller's to replay).</param>
    /// <param name="normalization">The normalization the model was trained with.</param>
    /// <param name="classNames">The class names, in the order of the model's outputs.</param>
    /// <param name="path">The .onnx file to write; its folder is created when missing.</param>
    /// <exception cref="ArgumentException">The model is not one this package built, or the class names do not fit it.</exception>
    /// <exception cref="NotSupportedException">The model holds a layer ONNX export does not cover.</exception>
    public static void Save(nn.Module<Tensor, Tensor> model, ImagePipeline pipeline, NormalizationStats normalization,
        IReadOnlyList<string> classNames, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        OnnxModelWriter.Write(Build(model, pipeline, normalization, classNames), path);
    }

    /// <summary>The ONNX model as bytes (see <see cref="Save"/>).</summary>
    /// <inheritdoc cref="Save" path="/param[@name='model']"/>
    /// <inheritdoc cref="Save" path="/param[@name='pipeline']"/>
    /// <inheritdoc cref="Save" path="/param[@name='normalization']"/>
    /// <inheritdoc cref="Save" path="/param[@name='classNames']"/>
    /// <inheritdoc cref="Save" path="/exception"/>
    public static byte[] ToBytes(nn.Module<Tensor, Tensor> model, ImagePipeline pipeline, NormalizationStats normalization,
        IReadOnlyList<string> classNames) =>
        OnnxModelWriter.Write(Build(model, pipeline, normalization, classNames));

    private static ModelProto Build(nn.Module<Tensor, Tensor> model, ImagePipeline pipeline, NormalizationStats normalization, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pipeline);
        if (model is not CnnModel cnn)
            throw new ArgumentException($"Only models built by MLNet.FastAi (a ResNet body with fastai's head) can be exported; got {model.GetType().Name}.", nameof(model));
        TorchRuntime.EnsureInitialized();
        return CnnOnnxExporter.Export(cnn, pipeline.Width, pipeline.Height, normalization, classNames, CnnOnnxSignature.Standalone);
    }
}
