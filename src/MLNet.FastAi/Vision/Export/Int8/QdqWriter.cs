using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// Writes the int8 form of the network's layers as ONNX QDQ (<c>QuantizeLinear</c>/<c>DequantizeLinear</c> around
/// float operators), the form ONNX Runtime's CPU provider fuses into int8 kernels: every convolution with per-output-
/// channel symmetric int8 weights and an int32 bias, every activation a uint8 tensor with one scale and zero point
/// from calibration. A ReLU after a layer is not written: quantizing to a zero point of 0 clamps at 0 exactly as it does.
/// </summary>
internal sealed class QdqWriter(OnnxGraphBuilder b, ActivationRanges ranges)
{
    private readonly Dictionary<string, (float Scale, byte ZeroPoint)> _quantized = new(StringComparer.Ordinal);

    /// <summary>
    /// Quantizes <paramref name="x"/> to uint8 with the range calibration found at node <paramref name="rangeOf"/>
    /// (clamped at 0 when a ReLU is folded in), and dequantizes it for the next operator.
    /// </summary>
    public string Activation(string x, string rangeOf, bool relu, string name)
    {
        var (min, max) = ranges.Of(rangeOf);
        if (relu) min = 0;
        // The range must hold 0 exactly (zero padding, ReLU), and must not be empty.
        min = Math.Min(min, 0);
        max = Math.Max(max, min + 1e-6f);
        float scale = (max - min) / 255f;
        byte zeroPoint = (byte)Math.Clamp(Math.Round(-min / scale), 0, 255);
        return QuantizeDequantize(x, scale, zeroPoint, name);
    }

    /// <summary>The same quantization as <paramref name="like"/>'s (a max pool's output, which must keep its input's scale to run in uint8).</summary>
    public string SameAs(string x, string like, string name)
    {
        var (scale, zeroPoint) = _quantized[like];
        return QuantizeDequantize(x, scale, zeroPoint, name);
    }

    private string QuantizeDequantize(string x, float scale, byte zeroPoint, string name)
    {
        string s = b.AddInitializer([scale], [], name + ".scale");
        string z = b.AddInitializer(OnnxTensor.FromUInt8s(name + ".zero_point", [zeroPoint]));
        string q = b.QuantizeLinear(x, s, z, name: name + ".quantize");
        string dq = b.DequantizeLinear(q, s, z, name: name + ".dequantize");
        _quantized[dq] = (scale, zeroPoint);
        return dq;
    }

    /// <summary>
    /// A convolution of a quantized input: weights int8 per output channel (scale max|w|/127), bias int32 at the scale
    /// input·weight, as ONNX Runtime's QLinearConv takes them.
    /// </summary>
    public string Conv(string x, float[] weight, long[] dims, float[] bias, long[] strides, long[] pads, long group, long[] dilations, string name)
    {
        if (!_quantized.TryGetValue(x, out var input))
            throw new InvalidOperationException($"Convolution '{name}': its input '{x}' is not quantized.");
        int outChannels = (int)dims[0];
        int perChannel = weight.Length / outChannels;
        var scales = new float[outChannels];
        var q = new sbyte[weight.Length];
        var biasQ = new int[outChannels];
        var biasScales = new float[outChannels];
        for (int c = 0; c < outChannels; c++)
        {
            float largest = 0;
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++) largest = Math.Max(largest, Math.Abs(weight[i]));
            // A channel of zeros still needs a positive scale.
            scales[c] = largest > 0 ? largest / 127f : 1f;
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++) q[i] = (sbyte)Math.Clamp(Math.Round(weight[i] / scales[c]), -127, 127);
            biasScales[c] = input.Scale * scales[c];
            biasQ[c] = (int)Math.Clamp(Math.Round(bias[c] / biasScales[c]), int.MinValue, int.MaxValue);
        }
        string w = b.DequantizeLinear(
            b.AddInitializer(OnnxTensor.FromInt8s(name + ".weight_quantized", q, dims)),
            b.AddInitializer(scales, [outChannels], name + ".weight_scale"),
            b.AddInitializer(OnnxTensor.FromInt8s(name + ".weight_zero_point", new sbyte[outChannels], outChannels)),
            axis: 0, name: name + ".weight");
        string bq = b.DequantizeLinear(
            b.AddInitializer(OnnxTensor.FromInt32s(name + ".bias_quantized", biasQ, outChannels)),
            b.AddInitializer(biasScales, [outChannels], name + ".bias_scale"),
            b.AddInitializer(OnnxTensor.FromInt32s(name + ".bias_zero_point", new int[outChannels], outChannels)),
            axis: 0, name: name + ".bias");
        return b.Conv(x, w, bq, dims[2..], strides, pads, group, dilations, name);
    }
}
