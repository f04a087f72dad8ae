using System.Globalization;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Vision.Export.Int8;

namespace MLNet.FastAi.Vision.Export;

/// <summary>
/// Writes the ResNet body and fastai head into an ONNX graph with every batch norm folded away (see
/// <see cref="CnnOnnxExporter"/>). Callers hold a no-grad dispose scope: weights are read as temporary CPU tensors.
/// </summary>
internal static class CnnOnnxLayers
{
    /// <summary>Stem (conv, BN, ReLU, max pool) and the residual stages; returns the feature map <c>[N, C, h, w]</c>.</summary>
    /// <remarks>With <paramref name="int8"/>, <paramref name="x"/> is the raw pixels (see <see cref="QdqWriter.PixelConv"/>)
    /// and every convolution and residual sum is written as QDQ (<see cref="QdqWriter"/>), its input already quantized;
    /// the node names, and so the calibration's keys, are those of the float graph.</remarks>
    public static string Body(OnnxGraphBuilder b, ResNetBody body, string x, QdqWriter? int8 = null)
    {
        if (int8 is null) x = ConvNormRelu(b, body.StemConv, body.StemNorm, x, "conv1", "relu", null);
        else
        {
            var stem = Fold(body.StemConv, body.StemNorm, "conv1");
            x = int8.Activation(int8.PixelConv(x, stem.Weight, stem.Dims, stem.Bias, body.StemConv.stride, stem.Pads,
                body.StemConv.groups, body.StemConv.dilation, "conv1"), "relu", relu: true, "relu.q");
        }
        string pooled = MaxPool(b, body.StemPool, x, "maxpool");
        x = int8 is null ? pooled : int8.SameAs(pooled, x, "maxpool", "maxpool.q");
        var stages = body.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            int index = 0;
            foreach (var block in stages[s].children().Cast<ResidualBlock>())
                x = Block(b, block, x, string.Create(CultureInfo.InvariantCulture, $"layer{s + 1}.{index++}"), int8);
        }
        return x;
    }

    /// <summary>A convolution with its batch norm folded in, then a ReLU (float), or the same quantized with the ReLU folded into the output's zero point.</summary>
    private static string ConvNormRelu(OnnxGraphBuilder b, Conv2d conv, BatchNorm2d norm, string x, string name, string reluName, QdqWriter? int8)
    {
        if (int8 is null) return b.Relu(ConvNorm(b, conv, norm, x, name), reluName);
        return int8.Activation(ConvNorm(b, conv, norm, x, name, int8), reluName, relu: true, reluName + ".q");
    }

    /// <summary>Concat pooling [max, avg], then the two linear layers with the batch norms folded in; returns logits <c>[N, K]</c>.</summary>
    public static string Head(OnnxGraphBuilder b, FastAiHead head, string features)
    {
        string pooled = b.Concat(1, [b.GlobalMaxPool(features, "head.max_pool"), b.GlobalAveragePool(features, "head.avg_pool")], "head.concat_pool");
        string x = b.Flatten(pooled, 1, "head.flatten");
        var (w1, dims1, b1) = NormThenLinear(head.Norm1, head.Hidden);
        x = b.Relu(b.Gemm(x, w1, dims1, b1, "head.fc1"), "head.relu");
        var (w2, dims2, b2) = NormThenLinear(head.Norm2, head.Output);
        return b.Gemm(x, w2, dims2, b2, "head.fc2");
    }

    private static string Block(OnnxGraphBuilder b, ResidualBlock block, string input, string name, QdqWriter? int8)
    {
        string x = input;
        int step = 1;
        foreach (var (conv, norm, relu) in block.MainPath)
        {
            string stepName = string.Create(CultureInfo.InvariantCulture, $"{name}.conv{step++}");
            if (relu) x = ConvNormRelu(b, conv, norm, x, stepName, stepName + ".relu", int8);
            else x = Quantized(ConvNorm(b, conv, norm, x, stepName, int8), stepName);
        }
        string identity = block.Shortcut is { } shortcut ? Quantized(ConvNorm(b, shortcut.Conv, shortcut.Norm, input, name + ".downsample", int8), name + ".downsample") : input;
        string sum = b.Add(x, identity, name + ".add");
        return int8 is null ? b.Relu(sum, name + ".relu") : int8.Activation(sum, name + ".relu", relu: true, name + ".relu.q");

        string Quantized(string value, string node) => int8 is null ? value : int8.Activation(value, node, relu: false, node + ".q");
    }

    /// <summary>A convolution with the batch norm after it folded into its weights and bias.</summary>
    private static string ConvNorm(OnnxGraphBuilder b, Conv2d conv, BatchNorm2d norm, string x, string name, QdqWriter? int8 = null)
    {
        var (weight, dims, bias, pads) = Fold(conv, norm, name);
        if (int8 is not null) return int8.Conv(x, weight, dims, bias, conv.stride, pads, conv.groups, conv.dilation, name);
        return b.Conv(x, weight, dims, bias, conv.stride, pads, conv.groups, conv.dilation, name);
    }

    /// <summary>The weights and bias of <paramref name="conv"/> with <paramref name="norm"/> folded in, and its ONNX pads.</summary>
    private static (float[] Weight, long[] Dims, float[] Bias, long[] Pads) Fold(Conv2d conv, BatchNorm2d norm, string name)
    {
        if (conv.padding_type is not null || conv.padding_mode != PaddingModes.Zeros || conv.padding is null)
            throw new NotSupportedException($"Convolution '{name}': only explicit zero padding can be exported.");
        var (scale, shift) = NormAffine(norm, name);
        float[] weight = Floats(conv.weight);
        long[] dims = conv.weight.shape;
        int outChannels = (int)dims[0];
        if (scale.Length != outChannels)
            throw new InvalidOperationException($"Convolution '{name}' has {outChannels} outputs but its batch norm has {scale.Length} channels.");
        float[] convBias = conv.bias is null ? new float[outChannels] : Floats(conv.bias);
        int perChannel = weight.Length / outChannels;
        var bias = new float[outChannels];
        for (int c = 0; c < outChannels; c++)
        {
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++) weight[i] = (float)(weight[i] * scale[c]);
            bias[c] = (float)(convBias[c] * scale[c] + shift[c]);
        }
        return (weight, dims, bias, conv.padding.Concat(conv.padding).ToArray());
    }

    private static string MaxPool(OnnxGraphBuilder b, MaxPool2d pool, string x, string name)
    {
        if (pool.dilation is { } dilation && dilation.Any(d => d != 1))
            throw new NotSupportedException($"Max pooling '{name}': dilated pooling cannot be exported.");
        long[] kernel = pool.kernel_size;
        long[] strides = pool.stride ?? kernel;
        long[] padding = pool.padding ?? new long[kernel.Length];
        return b.MaxPool(x, kernel, strides, padding.Concat(padding).ToArray(), pool.ceil_mode, name);
    }

    /// <summary>
    /// <c>linear(BN(x))</c> as one linear layer: with <c>BN(x) = a⊙x + c</c>, weights <c>W·diag(a)</c> and bias <c>W·c + b</c>.
    /// </summary>
    private static (float[] Weight, long[] Dims, float[] Bias) NormThenLinear(BatchNorm1d norm, Linear linear)
    {
        var (scale, shift) = NormAffine(norm, "head");
        float[] weight = Floats(linear.weight);
        long[] dims = linear.weight.shape;
        int outputs = (int)dims[0], inputs = (int)dims[1];
        if (scale.Length != inputs)
            throw new InvalidOperationException($"Head linear layer takes {inputs} inputs but the batch norm before it has {scale.Length} channels.");
        float[] linearBias = linear.bias is null ? new float[outputs] : Floats(linear.bias);
        var folded = new float[weight.Length];
        var bias = new float[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = linearBias[o];
            for (int i = 0; i < inputs; i++)
            {
                double w = weight[o * inputs + i];
                folded[o * inputs + i] = (float)(w * scale[i]);
                sum += w * shift[i];
            }
            bias[o] = (float)sum;
        }
        return (folded, dims, bias);
    }

    /// <summary>Eval-mode batch norm as <c>scale⊙x + shift</c>: scale = γ/√(σ²+ε), shift = β − μ·scale.</summary>
    private static (double[] Scale, double[] Shift) NormAffine(BatchNorm norm, string name)
    {
        if (norm.running_mean is null || norm.running_var is null)
            throw new NotSupportedException($"Batch norm of '{name}' keeps no running statistics, so it has no eval-mode form to export.");
        float[] mean = Floats(norm.running_mean), variance = Floats(norm.running_var);
        float[]? gamma = norm.weight is null ? null : Floats(norm.weight);
        float[]? beta = norm.bias is null ? null : Floats(norm.bias);
        var scale = new double[mean.Length];
        var shift = new double[mean.Length];
        for (int c = 0; c < mean.Length; c++)
        {
            scale[c] = (gamma?[c] ?? 1.0) / Math.Sqrt(variance[c] + norm.eps);
            shift[c] = (beta?[c] ?? 0.0) - mean[c] * scale[c];
        }
        return (scale, shift);
    }

    private static float[] Floats(Tensor t)
    {
        // Each step makes a tensor handle, even when it changes nothing: the scope frees them all.
        using var scope = NewDisposeScope();
        return t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }
}
