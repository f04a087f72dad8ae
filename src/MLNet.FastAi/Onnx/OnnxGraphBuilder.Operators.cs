using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Onnx;

/// <summary>Operators an image-classifier export uses, with their opset-13 attributes.</summary>
internal sealed partial class OnnxGraphBuilder
{
    /// <summary>
    /// Convolution with weights <c>[out, in/group, k...]</c> and an optional bias of length <c>out</c>.
    /// <paramref name="pads"/> is in ONNX order: all begin paddings, then all end paddings
    /// (PyTorch's <c>padding=(p, q)</c> is <c>[p, q, p, q]</c>). Omitted strides, pads and dilations mean 1, 0, 1.
    /// </summary>
    public string Conv(string x, float[] weight, long[] weightDims, float[]? bias = null, long[]? strides = null,
        long[]? pads = null, long group = 1, long[]? dilations = null, string? name = null)
    {
        if (weightDims.Length < 3)
            throw new ArgumentException($"Conv '{name}': weights need shape [out, in/group, kernel...], got [{string.Join(", ", weightDims)}].", nameof(weightDims));
        int spatial = weightDims.Length - 2;
        var inputs = new List<string> { x, AddInitializer(weight, weightDims, Param(name, "Conv", "weight")) };
        if (bias is not null)
        {
            if (bias.Length != weightDims[0])
                throw new ArgumentException($"Conv '{name}': bias has {bias.Length} values for {weightDims[0]} output channels.", nameof(bias));
            inputs.Add(AddInitializer(bias, [weightDims[0]], Param(name, "Conv", "bias")));
        }
        return AddNode("Conv", inputs,
        [
            OnnxAttribute.IntList("dilations", PerAxis(dilations, spatial, 1, "dilations", name)),
            OnnxAttribute.Int("group", group),
            OnnxAttribute.IntList("kernel_shape", weightDims[2..]),
            OnnxAttribute.IntList("pads", Pads(pads, spatial, name)),
            OnnxAttribute.IntList("strides", PerAxis(strides, spatial, 1, "strides", name)),
        ], name);
    }

    /// <summary>
    /// <c>QuantizeLinear</c>: <c>saturate(round(x / scale) + zeroPoint)</c>, in the zero point's type; a 1-D
    /// scale quantizes per slice along <paramref name="axis"/>.
    /// </summary>
    public string QuantizeLinear(string x, string scale, string zeroPoint, long? axis = null, string? name = null) =>
        AddNode("QuantizeLinear", [x, scale, zeroPoint], axis is { } a ? [OnnxAttribute.Int("axis", a)] : null, name);

    /// <summary><c>DequantizeLinear</c>: <c>(q − zeroPoint) · scale</c> as FLOAT; a 1-D scale per slice along <paramref name="axis"/>.</summary>
    public string DequantizeLinear(string q, string scale, string zeroPoint, long? axis = null, string? name = null) =>
        AddNode("DequantizeLinear", [q, scale, zeroPoint], axis is { } a ? [OnnxAttribute.Int("axis", a)] : null, name);

    /// <summary>A convolution whose weights (and bias) are given as graph values, e.g. dequantized int8.</summary>
    public string Conv(string x, string weight, string? bias, long[] kernelShape, long[] strides, long[] pads, long group, long[] dilations, string? name = null) =>
        AddNode("Conv", bias is null ? [x, weight] : [x, weight, bias],
        [
            OnnxAttribute.IntList("dilations", dilations),
            OnnxAttribute.Int("group", group),
            OnnxAttribute.IntList("kernel_shape", kernelShape),
            OnnxAttribute.IntList("pads", pads),
            OnnxAttribute.IntList("strides", strides),
        ], name);

    /// <summary>Batch normalization in inference mode: <c>scale * (x - mean) / sqrt(variance + epsilon) + bias</c> per channel.</summary>
    public string BatchNormalization(string x, float[] scale, float[] bias, float[] mean, float[] variance, float epsilon = 1e-5f, string? name = null)
    {
        int channels = scale.Length;
        if (bias.Length != channels || mean.Length != channels || variance.Length != channels)
            throw new ArgumentException($"BatchNormalization '{name}': scale, bias, mean and variance must have one value per channel (got {scale.Length}, {bias.Length}, {mean.Length}, {variance.Length}).");
        long[] dims = [channels];
        return AddNode("BatchNormalization",
        [
            x,
            AddInitializer(scale, dims, Param(name, "BatchNormalization", "weight")),
            AddInitializer(bias, dims, Param(name, "BatchNormalization", "bias")),
            AddInitializer(mean, dims, Param(name, "BatchNormalization", "running_mean")),
            AddInitializer(variance, dims, Param(name, "BatchNormalization", "running_var")),
        ], [OnnxAttribute.Float("epsilon", epsilon)], name);
    }

    public string Relu(string x, string? name = null) => AddNode("Relu", [x], null, name);

    /// <summary>Max pooling; omitted strides and pads mean 1 and 0.</summary>
    public string MaxPool(string x, long[] kernelShape, long[]? strides = null, long[]? pads = null, bool ceilMode = false, string? name = null) =>
        AddNode("MaxPool", [x], PoolAttributes(kernelShape, strides, pads, ceilMode, name), name);

    /// <summary>
    /// Average pooling. <paramref name="countIncludePad"/> defaults to ONNX's false; PyTorch's <c>AvgPool2d</c>
    /// defaults to counting padding, so pass true when exporting one with padding.
    /// </summary>
    public string AveragePool(string x, long[] kernelShape, long[]? strides = null, long[]? pads = null, bool countIncludePad = false, bool ceilMode = false, string? name = null)
    {
        var attributes = PoolAttributes(kernelShape, strides, pads, ceilMode, name);
        attributes.Add(OnnxAttribute.Int("count_include_pad", countIncludePad ? 1 : 0));
        return AddNode("AveragePool", [x], attributes, name);
    }

    public string GlobalAveragePool(string x, string? name = null) => AddNode("GlobalAveragePool", [x], null, name);

    public string GlobalMaxPool(string x, string? name = null) => AddNode("GlobalMaxPool", [x], null, name);

    public string Add(string a, string b, string? name = null) => AddNode("Add", [a, b], null, name);

    public string Sub(string a, string b, string? name = null) => AddNode("Sub", [a, b], null, name);

    public string Mul(string a, string b, string? name = null) => AddNode("Mul", [a, b], null, name);

    public string Div(string a, string b, string? name = null) => AddNode("Div", [a, b], null, name);

    public string Concat(long axis, IReadOnlyList<string> inputs, string? name = null)
    {
        if (inputs.Count == 0) throw new ArgumentException($"Concat '{name}' needs at least one input.", nameof(inputs));
        return AddNode("Concat", inputs, [OnnxAttribute.Int("axis", axis)], name);
    }

    public string Flatten(string x, long axis = 1, string? name = null) =>
        AddNode("Flatten", [x], [OnnxAttribute.Int("axis", axis)], name);

    /// <summary>A fully connected layer as PyTorch stores it: <c>x · weightᵀ + bias</c>, weight <c>[out, in]</c> (Gemm with transB=1).</summary>
    public string Gemm(string x, float[] weight, long[] weightDims, float[]? bias = null, string? name = null)
    {
        if (weightDims.Length != 2)
            throw new ArgumentException($"Gemm '{name}': weights need shape [out, in], got [{string.Join(", ", weightDims)}].", nameof(weightDims));
        var inputs = new List<string> { x, AddInitializer(weight, weightDims, Param(name, "Gemm", "weight")) };
        if (bias is not null)
        {
            if (bias.Length != weightDims[0])
                throw new ArgumentException($"Gemm '{name}': bias has {bias.Length} values for {weightDims[0]} outputs.", nameof(bias));
            inputs.Add(AddInitializer(bias, [weightDims[0]], Param(name, "Gemm", "bias")));
        }
        return AddNode("Gemm", inputs,
        [
            OnnxAttribute.Float("alpha", 1f),
            OnnxAttribute.Float("beta", 1f),
            OnnxAttribute.Int("transB", 1),
        ], name);
    }

    public string MatMul(string a, string b, string? name = null) => AddNode("MatMul", [a, b], null, name);

    /// <summary>Softmax along one axis (opset 13 semantics; earlier opsets flattened the trailing axes).</summary>
    public string Softmax(string x, long axis = -1, string? name = null) =>
        AddNode("Softmax", [x], [OnnxAttribute.Int("axis", axis)], name);

    /// <summary>Index of the largest value along <paramref name="axis"/>, as INT64.</summary>
    public string ArgMax(string x, long axis = -1, bool keepDims = true, string? name = null) =>
        AddNode("ArgMax", [x], [OnnxAttribute.Int("axis", axis), OnnxAttribute.Int("keepdims", keepDims ? 1 : 0)], name);

    public string Cast(string x, OnnxDataType to, string? name = null) =>
        AddNode("Cast", [x], [OnnxAttribute.Int("to", (long)to)], name);

    /// <summary>Reshape to a constant shape (0 copies the input dimension, -1 infers one dimension).</summary>
    public string Reshape(string x, long[] shape, string? name = null) =>
        AddNode("Reshape", [x, AddInitializer(shape, [shape.Length], Param(name, "Reshape", "shape"))], null, name);

    public string Reshape(string x, string shape, string? name = null) => AddNode("Reshape", [x, shape], null, name);

    /// <summary>Pads with zeros: <paramref name="pads"/> holds every axis's leading counts, then every axis's trailing ones.</summary>
    public string Pad(string x, long[] pads, string? name = null) =>
        AddNode("Pad", [x, AddInitializer(pads, [pads.Length], Param(name, "Pad", "pads"))], [OnnxAttribute.String("mode", "constant")], name);

    /// <summary>Copies a value, typically to give a graph output a chosen name.</summary>
    public string Identity(string x, string? outputName = null, string? name = null) =>
        AddNode("Identity", [x], null, name, outputName);

    /// <summary>Picks entries of <paramref name="data"/> along <paramref name="axis"/> at INT64 <paramref name="indices"/> (works on string tensors too).</summary>
    public string Gather(string data, string indices, long axis = 0, string? name = null) =>
        AddNode("Gather", [data, indices], [OnnxAttribute.Int("axis", axis)], name);

    /// <summary>
    /// One-hot encoding of INT64 <paramref name="indices"/> (rank 1 or more; ONNX rejects scalars) into FLOAT vectors
    /// of length <paramref name="depth"/> along the last axis: 1 at the index, 0 elsewhere.
    /// </summary>
    public string OneHot(string indices, long depth, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        return AddNode("OneHot",
        [
            indices,
            AddInitializer(new[] { depth }, [], Param(name, "OneHot", "depth")),
            AddInitializer(new[] { 0f, 1f }, [2], Param(name, "OneHot", "values")),
        ], [OnnxAttribute.Int("axis", -1)], name);
    }

    /// <summary>
    /// ONNX-ML LabelEncoder (opset 2) from strings to INT64: each key maps to the value at the same position, anything
    /// else to <paramref name="defaultValue"/>.
    /// </summary>
    public string LabelEncoder(string x, IReadOnlyList<string> keys, IReadOnlyList<long> values, long defaultValue = -1, string? name = null, string? outputName = null)
    {
        if (keys.Count != values.Count)
            throw new ArgumentException($"LabelEncoder '{name}': {keys.Count} keys but {values.Count} values.", nameof(values));
        string output = AddNode("LabelEncoder", [x],
        [
            OnnxAttribute.StringList("keys_strings", keys.ToArray()),
            OnnxAttribute.IntList("values_int64s", values.ToArray()),
            OnnxAttribute.Int("default_int64", defaultValue),
        ], name, outputName);
        _graph.Node[^1].Domain = MLDomain;
        return output;
    }

    /// <summary>A Constant node producing <paramref name="value"/> (an alternative to an initializer).</summary>
    public string Constant(TensorProto value, string? name = null)
    {
        CheckElementCount(value);
        return AddNode("Constant", [], [OnnxAttribute.Tensor("value", value)], name);
    }

    private List<AttributeProto> PoolAttributes(long[] kernelShape, long[]? strides, long[]? pads, bool ceilMode, string? name)
    {
        if (kernelShape.Length == 0) throw new ArgumentException($"Pooling '{name}' needs a kernel shape.", nameof(kernelShape));
        int spatial = kernelShape.Length;
        return
        [
            OnnxAttribute.Int("ceil_mode", ceilMode ? 1 : 0),
            OnnxAttribute.IntList("kernel_shape", kernelShape),
            OnnxAttribute.IntList("pads", Pads(pads, spatial, name)),
            OnnxAttribute.IntList("strides", PerAxis(strides, spatial, 1, "strides", name)),
        ];
    }

    private static long[] PerAxis(long[]? values, int spatial, long fallback, string what, string? name)
    {
        if (values is null) return Enumerable.Repeat(fallback, spatial).ToArray();
        if (values.Length != spatial)
            throw new ArgumentException($"'{name}': {what} needs {spatial} values (one per spatial axis), got {values.Length}.");
        return values;
    }

    private static long[] Pads(long[]? pads, int spatial, string? name)
    {
        if (pads is null) return new long[2 * spatial];
        if (pads.Length != 2 * spatial)
            throw new ArgumentException($"'{name}': pads needs {2 * spatial} values (begin and end of each spatial axis), got {pads.Length}.");
        return pads;
    }

    private static string Param(string? name, string opType, string parameter) => $"{name ?? opType}.{parameter}";
}
