using MLNet.FastAi.Data;
using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// Writes the int8 form of the network's layers as ONNX QDQ (<c>QuantizeLinear</c>/<c>DequantizeLinear</c> around
/// float operators), the form ONNX Runtime's CPU provider fuses into int8 kernels: every convolution with per-output-
/// channel symmetric int8 weights (the stem's stored as uint8, see below) and an int32 bias, every activation a uint8
/// tensor with one scale and zero point from calibration (the pixels: scale 1, zero point 0). A ReLU after a layer is not written: quantizing to a zero point of 0 clamps at 0 exactly as it does.
/// </summary>
/// <remarks>
/// Three things keep the int8 network close to the float32 one, each measured on MNIST and upscaled Fashion-MNIST
/// (bench/RESULTS.md, "int8 accuracy: the stem on grey images"), where the stem's convolution made three quarters of the
/// difference: on grey images (R = G = B) the stem's colour-opponent filters cancel in float32, and the batch norm folded
/// into them (of small variance, for that reason) scales up whatever no longer cancels.
/// <list type="bullet">
/// <item>The stem reads the raw pixels, exact in uint8 (<see cref="PixelConv"/>), not the normalized image, whose three
/// channels one uint8 scale would round differently (a grey image would stop being grey).</item>
/// <item>The stem's weights are rounded with <see cref="CompensatedRounding"/> over the patches calibration saw, so that
/// their errors cancel on the images as the float weights do.</item>
/// <item>Every convolution's bias is corrected for the mean its rounded weights shift (Nagel et al., "Data-Free
/// Quantization Through Weight Equalization and Bias Correction", 2019): <c>Σ (W_int8·scale − W)·E[x]</c> per output
/// channel, with the means of its input that calibration saw (for the stem, the mean patch, padding included).</item>
/// </list>
/// <para>The stem's weights are stored as uint8 offset by 128 (<see cref="WeightStorage.OffsetUnsigned"/>): the same
/// integers, but ONNX Runtime then runs the stem on its u8×u8 kernels, which widen to 16 bits before multiplying. Its
/// u8×s8 kernels on CPUs without VNNI (AVX2, and AVX-512 without VNNI; which CPUs: bench/RESULTS.md) add each pair of
/// byte products in a saturating int16 (<c>vpmaddubsw</c>); bright pixels, up to 255, times weights up to ±127 overflow
/// it (255·127·2 = 64,770 > 32,767). Measured under QEMU as such a CPU, signed stem weights lost points of test accuracy
/// that offset ones keep (bench/RESULTS.md, "int8 on CPUs without VNNI"). The inner layers read ReLU outputs, rarely
/// near the top of their range, and keep the faster u8×s8 kernels (VNNI's int8 dot product where the CPU has it).</para>
/// </remarks>
internal sealed class QdqWriter(OnnxGraphBuilder b, CalibrationStatistics calibration, NormalizationStats normalization)
{
    /// <summary>The zero point of weights stored as uint8: an int8 weight q is stored as q + 128.</summary>
    private const int WeightOffset = 128;

    private readonly Dictionary<string, Quantized> _quantized = new(StringComparer.Ordinal);

    /// <summary>A quantized activation: its scale and zero point, and the mean of each of its channels over calibration.</summary>
    private sealed record Quantized(float Scale, byte ZeroPoint, double[] Means);

    /// <summary>
    /// Quantizes <paramref name="x"/> to uint8 with the range calibration found at node <paramref name="rangeOf"/>
    /// (clamped at 0 when a ReLU is folded in), and dequantizes it for the next operator.
    /// </summary>
    public string Activation(string x, string rangeOf, bool relu, string name)
    {
        var (scale, zeroPoint) = Quantizer(rangeOf, relu);
        return QuantizeDequantize(x, new Quantized(scale, zeroPoint, calibration.ChannelMeans(rangeOf)), name);
    }

    /// <summary>
    /// The same quantization as <paramref name="like"/>'s (a max pool's output, which must keep its input's scale to
    /// run in uint8); <paramref name="meansOf"/> names the node whose output <paramref name="x"/> is.
    /// </summary>
    public string SameAs(string x, string like, string meansOf, string name)
    {
        var (scale, zeroPoint, _) = _quantized[like];
        return QuantizeDequantize(x, new Quantized(scale, zeroPoint, calibration.ChannelMeans(meansOf)), name);
    }

    private (float Scale, byte ZeroPoint) Quantizer(string rangeOf, bool relu)
    {
        var (min, max) = calibration.Of(rangeOf);
        if (relu) min = 0;
        // The range must hold 0 exactly (zero padding, ReLU), and must not be empty.
        min = Math.Min(min, 0);
        max = Math.Max(max, min + 1e-6f);
        float scale = (max - min) / 255f;
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    private string QuantizeDequantize(string x, Quantized quantized, string name)
    {
        string s = b.AddInitializer([quantized.Scale], [], name + ".scale");
        string z = b.AddInitializer(OnnxTensor.FromUInt8s(name + ".zero_point", [quantized.ZeroPoint]));
        string q = b.QuantizeLinear(x, s, z, name: name + ".quantize");
        string dq = b.DequantizeLinear(q, s, z, name: name + ".dequantize");
        _quantized[dq] = quantized;
        return dq;
    }

    /// <summary>
    /// The stem's convolution on the raw pixels (whole numbers 0..255 from the decoder, so exact in uint8 at scale 1;
    /// other values are rounded to the nearest level and clamped), with the input normalization folded into its
    /// weights and bias. The normalized image's zero padding is the normalization's mean in grey levels, written out by
    /// a Pad (rounded to a whole level: half a grey level, 0.5/(255·std), off at most, in the padding only).
    /// </summary>
    public string PixelConv(string pixels, float[] weight, long[] dims, float[] bias, long[] strides, long[] pads, long group, long[] dilations, string name)
    {
        int outChannels = (int)dims[0], inChannels = (int)dims[1];
        if (group != 1 || inChannels != 3)
            throw new NotSupportedException($"Convolution '{name}': only an ungrouped convolution of the three colour channels can read the pixels.");
        int taps = weight.Length / (outChannels * inChannels);
        var level = new float[inChannels];
        var (scale, offset) = (new double[inChannels], new double[inChannels]);
        for (int c = 0; c < inChannels; c++)
        {
            (scale[c], offset[c]) = normalization.PixelAffineOf(c);
            level[c] = normalization.MeanGreyLevelOf(c);
        }
        var folded = new float[weight.Length];
        var foldedBias = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            double sum = bias[o];
            for (int c = 0; c < inChannels; c++)
                for (int t = 0; t < taps; t++)
                {
                    int i = (o * inChannels + c) * taps + t;
                    folded[i] = (float)(weight[i] * scale[c]);
                    sum += weight[i] * offset[c];
                }
            foldedBias[o] = (float)sum;
        }
        string mean = b.AddInitializer(level, [1, inChannels, 1, 1], name + ".pad_level");
        string padded = b.Pad(b.Sub(pixels, mean, name + ".pad_shift"), [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], name + ".pad");
        var patches = calibration.ImagePatchesOf(name)
            ?? throw new InvalidOperationException($"Calibration kept no patches of convolution '{name}', the one that reads the pixels.");
        string x = QuantizeDequantize(b.Add(padded, mean, name + ".pad_fill"), new Quantized(1f, 0, patches.ChannelMeans()), name + ".input.q");
        return Conv(x, folded, dims, foldedBias, strides, new long[pads.Length], group, dilations, name, WeightStorage.OffsetUnsigned);
    }

    /// <summary>
    /// A convolution of a quantized input: weights int8 per output channel (scale max|w|/127), written as
    /// <paramref name="storage"/> says, bias int32 at the scale input·weight, as ONNX Runtime's QLinearConv takes them,
    /// corrected for the mean the rounding shifts.
    /// </summary>
    public string Conv(string x, float[] weight, long[] dims, float[] bias, long[] strides, long[] pads, long group, long[] dilations, string name,
        WeightStorage storage = WeightStorage.Signed)
    {
        if (!_quantized.TryGetValue(x, out var input))
            throw new InvalidOperationException($"Convolution '{name}': its input '{x}' is not quantized.");
        int outChannels = (int)dims[0];
        int perChannel = weight.Length / outChannels;
        int inPerGroup = (int)dims[1], outPerGroup = outChannels / (int)group, taps = perChannel / inPerGroup;
        if (input.Means.Length != inPerGroup * group)
            throw new InvalidOperationException($"Convolution '{name}' takes {inPerGroup * group} channels but calibration saw {input.Means.Length}.");
        var scales = new float[outChannels];
        var q = new sbyte[weight.Length];
        var patches = calibration.ImagePatchesOf(name);
        if (patches is not null && patches.Size != perChannel)
            throw new InvalidOperationException($"Convolution '{name}' has {perChannel} weights per output but calibration saw patches of {patches.Size}.");
        var rounding = patches is null ? null : new CompensatedRounding(patches.Moments(), perChannel);
        var meanPatch = patches?.Means();
        var biasQ = new int[outChannels];
        var biasScales = new float[outChannels];
        for (int c = 0; c < outChannels; c++)
        {
            float largest = 0;
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++) largest = Math.Max(largest, Math.Abs(weight[i]));
            // A channel of zeros still needs a positive scale.
            scales[c] = largest > 0 ? largest / 127f : 1f;
            if (rounding is not null) rounding.Round(weight.AsSpan(c * perChannel, perChannel), scales[c], q.AsSpan(c * perChannel, perChannel));
            else for (int i = c * perChannel; i < (c + 1) * perChannel; i++) q[i] = (sbyte)Math.Clamp(Math.Round(weight[i] / scales[c]), -127, 127);
            // The mean shift of this output channel: Σ (W_int8·scale − W)·E[x], with each tap's own mean where calibration
            // kept the patches, else its channel's (an approximation at the zero-padded border).
            double shift = 0;
            for (int i = 0; i < inPerGroup; i++)
            {
                double channelMean = input.Means[c / outPerGroup * inPerGroup + i];
                for (int t = 0; t < taps; t++)
                {
                    int at = c * perChannel + i * taps + t;
                    shift += ((double)q[at] * scales[c] - weight[at]) * (meanPatch?[i * taps + t] ?? channelMean);
                }
            }
            biasScales[c] = input.Scale * scales[c];
            biasQ[c] = (int)Math.Clamp(Math.Round((bias[c] - shift) / biasScales[c]), int.MinValue, int.MaxValue);
        }
        var (weights, zeroPoints) = storage == WeightStorage.Signed
            ? (OnnxTensor.FromInt8s(name + ".weight_quantized", q, dims), OnnxTensor.FromInt8s(name + ".weight_zero_point", new sbyte[outChannels], outChannels))
            : (OnnxTensor.FromUInt8s(name + ".weight_quantized", Array.ConvertAll(q, v => (byte)(v + WeightOffset)), dims),
               OnnxTensor.FromUInt8s(name + ".weight_zero_point", Enumerable.Repeat((byte)WeightOffset, outChannels).ToArray(), outChannels));
        string w = b.DequantizeLinear(b.AddInitializer(weights), b.AddInitializer(scales, [outChannels], name + ".weight_scale"), b.AddInitializer(zeroPoints),
            axis: 0, name: name + ".weight");
        string bq = b.DequantizeLinear(
            b.AddInitializer(OnnxTensor.FromInt32s(name + ".bias_quantized", biasQ, outChannels)),
            b.AddInitializer(biasScales, [outChannels], name + ".bias_scale"),
            b.AddInitializer(OnnxTensor.FromInt32s(name + ".bias_zero_point", new int[outChannels], outChannels)),
            axis: 0, name: name + ".bias");
        return b.Conv(x, w, bq, dims[2..], strides, pads, group, dilations, name);
    }
}

/// <summary>How a convolution's int8 weights are written.</summary>
internal enum WeightStorage
{
    /// <summary>int8, zero point 0: ONNX Runtime's u8×s8 kernels (VNNI where the CPU has it).</summary>
    Signed,

    /// <summary>The same integers as uint8 with zero point 128: ONNX Runtime's u8×u8 kernels, which never saturate.</summary>
    OffsetUnsigned,
}
