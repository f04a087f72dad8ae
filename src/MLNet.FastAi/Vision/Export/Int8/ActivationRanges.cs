using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// The range of every node's output over calibration images, found by running the float network in ONNX Runtime
/// with each node's output made a graph output. Keyed by node name, which the float and int8 exports share.
/// </summary>
internal sealed class ActivationRanges
{
    private readonly Dictionary<string, (float Min, float Max)> _ranges;

    private ActivationRanges(Dictionary<string, (float Min, float Max)> ranges) => _ranges = ranges;

    /// <summary>Images run through the network.</summary>
    public int Images { get; private init; }

    public (float Min, float Max) Of(string node) =>
        _ranges.TryGetValue(node, out var range) ? range : throw new InvalidOperationException($"Calibration saw no output of node '{node}'.");

    /// <summary>
    /// Runs <paramref name="floatModel"/> on <paramref name="batches"/> (raw 0..255 planar RGB, <c>[n, 3, h, w]</c>)
    /// and keeps the smallest and largest value of each node's output (min-max calibration).
    /// </summary>
    public static ActivationRanges Calibrate(ModelProto floatModel, string inputName, IEnumerable<(float[] Pixels, int Count)> batches, int height, int width)
    {
        var model = floatModel.Clone();
        var graph = model.Graph;
        var observed = new Dictionary<string, string>(StringComparer.Ordinal);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            // The float tensors of the network; the class outputs after it (indices, names) have no range to calibrate.
            if (node.OpType is not ("Conv" or "Relu" or "Add" or "Mul" or "MaxPool" or "GlobalAveragePool" or "GlobalMaxPool" or "Concat" or "Flatten" or "Gemm")
                || node.Output.Count != 1) continue;
            observed[node.Output[0]] = node.Name;
            if (outputs.Add(node.Output[0]))
                graph.Output.Add(new ValueInfoProto
                {
                    Name = node.Output[0],
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } },
                });
        }
        var ranges = new Dictionary<string, (float Min, float Max)>(StringComparer.Ordinal);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(OnnxModelWriter.Write(model), options);
        int images = 0;
        foreach (var (pixels, count) in batches)
        {
            var input = new DenseTensor<float>(pixels, [count, 3, height, width]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)], observed.Keys.ToList());
            foreach (var result in results)
            {
                var values = ((DenseTensor<float>)result.AsTensor<float>()).Buffer.Span;
                float min = float.PositiveInfinity, max = float.NegativeInfinity;
                foreach (float v in values)
                {
                    if (v < min) min = v;
                    if (v > max) max = v;
                }
                string node = observed[result.Name];
                ranges[node] = ranges.TryGetValue(node, out var seen) ? (Math.Min(seen.Min, min), Math.Max(seen.Max, max)) : (min, max);
            }
            images += count;
        }
        if (images == 0) throw new InvalidOperationException("Calibration needs at least one image.");
        return new ActivationRanges(ranges) { Images = images };
    }
}
