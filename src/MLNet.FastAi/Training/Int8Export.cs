using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Data;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Vision.Export.Int8;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>What an int8 export measured: the calibration, and validation accuracy in float32 and int8.</summary>
/// <param name="CalibrationImages">Training images whose activations set the scales.</param>
/// <param name="ValidationImages">Validation images both networks classified (0: none to check against).</param>
/// <param name="FloatAccuracy">Accuracy of the float32 network through ONNX Runtime; NaN without validation images.</param>
/// <param name="Int8Accuracy">Accuracy of the int8 network; NaN without validation images.</param>
public sealed record Int8Report(int CalibrationImages, int ValidationImages, double FloatAccuracy, double Int8Accuracy)
{
    /// <summary>Accuracy lost by quantizing, in points (0.4 = 0.4 percentage points).</summary>
    public double LossInPoints => 100 * (FloatAccuracy - Int8Accuracy);

    /// <summary>
    /// Whether the int8 network passed the accuracy guard: it loses at most one point of validation
    /// accuracy, or at most one image (always, without validation images).
    /// </summary>
    public bool Accepted => !Int8Export.Refuses(ValidationImages, FloatAccuracy, Int8Accuracy);

    /// <inheritdoc/>
    public override string ToString() => ValidationImages == 0
        ? $"int8: calibrated on {CalibrationImages} training images; no validation images to compare accuracy on"
        : string.Create(CultureInfo.InvariantCulture,
            $"int8: calibrated on {CalibrationImages} training images; validation accuracy {FloatAccuracy:0.0000} float32, {Int8Accuracy:0.0000} int8 ({ValidationImages} images)") +
            (Accepted ? "" : string.Create(CultureInfo.InvariantCulture, $"; refused: it loses {LossInPoints:0.00} points, more than the {Int8Export.MaxAccuracyLoss:0.0} allowed"));
}

/// <summary>
/// Static int8 quantization of a trained network (ONNX QDQ): activation ranges calibrated on training images
/// (min-max), per-channel int8 weights with the stem on exact pixels and every bias corrected (<see cref="QdqWriter"/>), then both networks classify the validation set through ONNX Runtime and an
/// int8 network that loses more than <see cref="MaxAccuracyLoss"/> points — and more than one image, which on a small
/// validation set is no evidence either way — is refused with the figures.
/// </summary>
internal static class Int8Export
{
    /// <summary>Training images calibrated on: scales settle long before (min-max over 256 and 1,024 images differ little).</summary>
    public const int CalibrationImages = 256;

    /// <summary>Images a calibration or validation run of ONNX Runtime takes at once.</summary>
    private const int BatchSize = 16;

    /// <summary>The most validation accuracy an int8 network may lose, in points, before it is refused.</summary>
    public const double MaxAccuracyLoss = 1.0;

    /// <summary>
    /// The int8 ONNX model of <paramref name="learner"/>'s network with <paramref name="signature"/>, checked against
    /// its float32 self; no model when the guard refuses it (the report says why).
    /// </summary>
    /// <remarks>
    /// A learner saved in int8 twice with the same weights (<c>train --int8 --out … --onnx …</c>: the zip, then the
    /// ONNX file) is calibrated and checked once: the second call finds the first's scales and report, keyed by the
    /// float32 network's bytes (weights, normalization, size and classes; a learner's data never changes).
    /// </remarks>
    public static (byte[]? Onnx, Int8Report Report, bool Reused) Build(Learner learner, CnnOnnxSignature signature)
    {
        var data = learner.Data;
        int height = data.Pipeline.Height, width = data.Pipeline.Width;
        var model = learner.CnnModel;
        var classes = data.Classes;
        var standalone = CnnOnnxExporter.Export(model, width, height, learner.Normalization, classes, CnnOnnxSignature.Standalone);
        byte[] floatStandalone = OnnxModelWriter.Write(standalone);
        byte[] network = SHA256.HashData(floatStandalone);
        bool reused = Calibrations.TryGetValue(learner, out var known) && known.Network.AsSpan().SequenceEqual(network);
        byte[]? int8Standalone = null;
        if (!reused)
        {
            var statistics = CalibrationStatistics.Calibrate(standalone, CnnOnnxSignature.Standalone.PixelsInput,
                RawBatches(learner, data.Train, CalibrationImages).Select(b => (b.Pixels, b.Count)), height, width, learner.Normalization);
            int8Standalone = CnnOnnxExporter.ExportBytes(model, width, height, learner.Normalization, classes, CnnOnnxSignature.Standalone, statistics);
            var (images, floatAccuracy, int8Accuracy) = data.Valid.Count == 0 || !data.Valid.IsLabeled
                ? (0, double.NaN, double.NaN)
                : Accuracies(learner, floatStandalone, int8Standalone, height, width);
            known = new Calibration(network, statistics, new Int8Report(statistics.Images, images, floatAccuracy, int8Accuracy));
            Calibrations.AddOrUpdate(learner, known);
        }
        if (!known!.Report.Accepted) return (null, known.Report, reused);
        byte[] onnx = signature == CnnOnnxSignature.Standalone && int8Standalone is not null ? int8Standalone
            : CnnOnnxExporter.ExportBytes(model, width, height, learner.Normalization, classes, signature, known.Statistics);
        return (onnx, known.Report, reused);
    }

    /// <summary>The last calibration of each learner, and what it was made from.</summary>
    private static readonly ConditionalWeakTable<Learner, Calibration> Calibrations = new();

    private sealed record Calibration(byte[] Network, CalibrationStatistics Statistics, Int8Report Report);

    /// <summary>The refusal of an int8 network the guard turned down, naming the option as the door in use does.</summary>
    public static OptionException Refusal(Int8Report report) =>
        new(OptionKey.Int8, true, $"{report}, so it was not written; to save the float32 network, {OptionKey.Int8.Set(false)}.", fits: false);

    /// <summary>
    /// Whether an int8 network is refused: it classifies more than <see cref="MaxAccuracyLoss"/> points fewer of
    /// <paramref name="images"/> validation images right, and more than one image fewer.
    /// </summary>
    internal static bool Refuses(int images, double floatAccuracy, double int8Accuracy)
    {
        if (images == 0) return false;
        double lostImages = Math.Round((floatAccuracy - int8Accuracy) * images);
        return lostImages > Math.Max(1, MaxAccuracyLoss / 100 * images);
    }

    /// <summary>Both networks over the validation images, as served: ONNX Runtime with its optimizations (which fuse QDQ into int8 kernels).</summary>
    private static (int Images, double Float, double Int8) Accuracies(Learner learner, byte[] floatOnnx, byte[] int8Onnx, int height, int width)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var floatSession = new InferenceSession(floatOnnx, options);
        using var int8Session = new InferenceSession(int8Onnx, options);
        int images = 0, floatRight = 0, int8Right = 0;
        foreach (var (pixels, count, labels) in RawBatches(learner, learner.Data.Valid, int.MaxValue))
        {
            var input = new DenseTensor<float>(pixels, [count, 3, height, width]);
            floatRight += Correct(floatSession, input, labels);
            int8Right += Correct(int8Session, input, labels);
            images += count;
        }
        return (images, (double)floatRight / images, (double)int8Right / images);
    }

    private static int Correct(InferenceSession session, DenseTensor<float> input, long[] labels)
    {
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(CnnOnnxSignature.Standalone.PixelsInput, input)],
            [CnnOnnxSignature.Standalone.PredictedIndexOutput!]);
        var predicted = results[0].AsTensor<long>().ToArray();
        return predicted.Where((p, i) => p == labels[i]).Count();
    }

    /// <summary>A split's images at the model's size, as the saved model's decode gives them (planar RGB 0..255), in batches.</summary>
    /// <remarks>
    /// Batches of <see cref="BatchSize"/>: calibration keeps every activation of a batch at once (about 40 MB an image
    /// for ResNet-18 at 224 px), so a validation-sized batch would hold gigabytes.
    /// </remarks>
    internal static IEnumerable<(float[] Pixels, int Count, long[] Labels)> RawBatches(Learner learner, ImageSplit split, int maxImages)
    {
        using var loader = learner.Data.OrderedLoader(split, CPU, learner.Normalization, augmentation: null, learner.Data.Seed, BatchSize);
        int taken = 0;
        using var batches = loader.Batches(0).GetEnumerator();
        while (taken < maxImages)
        {
            float[] pixels;
            long[] labels;
            int count;
            // The batch is made inside the scope, so its tensors are freed with it (as Learner.Collect does).
            using (NewDisposeScope())
            {
                if (!batches.MoveNext()) yield break;
                var batch = batches.Current;
                var raw = (loader.Denormalize(batch.Images) * 255).round().contiguous();
                count = (int)Math.Min(raw.shape[0], maxImages - taken);
                pixels = raw.narrow(0, 0, count).contiguous().data<float>().ToArray();
                labels = batch.Labels.narrow(0, 0, count).cpu().data<long>().ToArray();
            }
            taken += count;
            yield return (pixels, count, labels);
        }
    }
}
