using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Data;
using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// What calibration saw of every node's output — its range, and each channel's mean — found by running the float network
/// in ONNX Runtime with each node's output made a graph output; and the moments of the pixel patches the first
/// convolution reads. Keyed by node name, which the float and int8 exports share.
/// </summary>
internal sealed class CalibrationStatistics
{
    private readonly Dictionary<string, Statistics> _nodes;
    private readonly (string Conv, PatchMoments Moments) _imagePatches;

    private CalibrationStatistics(Dictionary<string, Statistics> nodes, (string, PatchMoments) imagePatches) =>
        (_nodes, _imagePatches) = (nodes, imagePatches);

    /// <summary>The moments of the image patches that <paramref name="conv"/> reads, if it is the convolution that reads the image.</summary>
    public PatchMoments? ImagePatchesOf(string conv) => conv == _imagePatches.Conv ? _imagePatches.Moments : null;

    /// <summary>Images run through the network.</summary>
    public int Images { get; private init; }

    public (float Min, float Max) Of(string node) => Seen(node).Range;

    /// <summary>The mean of each channel (axis 1) of <paramref name="node"/>'s output.</summary>
    public double[] ChannelMeans(string node)
    {
        var seen = Seen(node);
        return seen.Sums.Select(sum => sum / seen.PerChannel).ToArray();
    }

    private Statistics Seen(string node) =>
        _nodes.TryGetValue(node, out var seen) ? seen : throw new InvalidOperationException($"Calibration saw no output of node '{node}'.");

    /// <summary>
    /// Runs <paramref name="floatModel"/> on <paramref name="batches"/> (raw 0..255 planar RGB, <c>[n, 3, h, w]</c>)
    /// and keeps the smallest and largest value of each node's output (min-max calibration) and each channel's mean; the
    /// first convolution's patches are taken as int8 reads them (<see cref="QdqWriter.PixelConv"/>): the pixels, padded
    /// with <paramref name="normalization"/>'s mean in grey levels.
    /// </summary>
    public static CalibrationStatistics Calibrate(ModelProto floatModel, string inputName, IEnumerable<(float[] Pixels, int Count)> batches, int height, int width,
        NormalizationStats normalization)
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
        // The first convolution reads the image; in int8 it reads the pixels, padded with the normalization's mean grey.
        var stem = graph.Node.FirstOrDefault(n => n.OpType == "Conv")
            ?? throw new InvalidOperationException("The network has no convolution to quantize.");
        var imagePatches = PatchMoments.For(stem, channels: 3, [.. Enumerable.Range(0, 3).Select(normalization.MeanGreyLevelOf)]);
        var nodes = new Dictionary<string, Statistics>(StringComparer.Ordinal);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(OnnxModelWriter.Write(model), options);
        int images = 0;
        foreach (var (pixels, count) in batches)
        {
            imagePatches.Add(pixels, count, height, width);
            var input = new DenseTensor<float>(pixels, [count, 3, height, width]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)], observed.Keys.ToList());
            foreach (var result in results)
            {
                var tensor = (DenseTensor<float>)result.AsTensor<float>();
                string node = observed[result.Name];
                if (!nodes.TryGetValue(node, out var seen))
                    nodes[node] = seen = new Statistics(tensor.Dimensions.Length > 1 ? tensor.Dimensions[1] : 1);
                seen.Add(tensor);
            }
            images += count;
        }
        if (images == 0) throw new InvalidOperationException("Calibration needs at least one image.");
        return new CalibrationStatistics(nodes, (stem.Name, imagePatches)) { Images = images };
    }

    /// <summary>A node's output so far: its range, and per channel the sum of its values and how many there were.</summary>
    private sealed class Statistics(int channels)
    {
        public (float Min, float Max) Range { get; private set; } = (float.PositiveInfinity, float.NegativeInfinity);

        public double[] Sums { get; } = new double[channels];

        public long PerChannel { get; private set; }

        public void Add(DenseTensor<float> tensor)
        {
            var values = tensor.Buffer.Span;
            int channels = Sums.Length;
            int inner = (int)Math.Max(1, values.Length / Math.Max(1, (long)tensor.Dimensions[0] * channels));
            float min = Range.Min, max = Range.Max;
            for (int start = 0; start < values.Length; start += inner)
            {
                double sum = 0;
                foreach (float v in values.Slice(start, inner))
                {
                    if (v < min) min = v;
                    if (v > max) max = v;
                    sum += v;
                }
                Sums[start / inner % channels] += sum;
            }
            Range = (min, max);
            PerChannel += values.Length / channels;
        }
    }
}
