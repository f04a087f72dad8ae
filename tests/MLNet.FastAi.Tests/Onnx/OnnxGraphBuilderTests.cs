using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>Graphs built with <see cref="OnnxGraphBuilder"/>, written by <see cref="OnnxModelWriter"/>, run in ONNX Runtime and checked against TorchSharp.</summary>
public class OnnxGraphBuilderTests(ITestOutputHelper output)
{
    private static readonly string[] ClassNames = ["cat", "dog", "frog", "horse", "ship"];

    [Fact]
    public void ImageClassifierGraph_MatchesTorchSharp()
    {
        const int n = 3, cin = 3, cout = 8, size = 8, classes = 5;
        var rng = new Random(7);
        float[] x = Random(rng, n * cin * size * size, 2f);
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        float[] convW = Random(rng, cout * cin * 3 * 3, 0.3f), convB = Random(rng, cout, 0.1f);
        float[] gamma = Random(rng, cout, 0.5f).Select(v => v + 1f).ToArray(), beta = Random(rng, cout, 0.2f);
        float[] runMean = Random(rng, cout, 0.3f), runVar = Random(rng, cout, 0.5f).Select(v => v + 1f).ToArray();
        float[] fcW = Random(rng, classes * 2 * cout, 0.5f), fcB = Random(rng, classes, 0.1f);

        var b = new OnnxGraphBuilder("classifier");
        string input = b.AddInput("input", OnnxDataType.Float, "batch", cin, size, size);
        string h = b.Sub(input, b.AddInitializer(mean, [1, cin, 1, 1], "mean"));
        h = b.Div(h, b.AddInitializer(std, [1, cin, 1, 1], "std"));
        h = b.Conv(h, convW, [cout, cin, 3, 3], convB, pads: [1, 1, 1, 1], name: "body.0");
        h = b.BatchNormalization(h, gamma, beta, runMean, runVar, 1e-5f, "body.1");
        h = b.Relu(h);
        h = b.MaxPool(h, [2, 2], strides: [2, 2]);
        h = b.Concat(1, [b.GlobalAveragePool(h), b.GlobalMaxPool(h)]);
        h = b.Flatten(h, 1);
        string logits = b.Gemm(h, fcW, [classes, 2 * cout], fcB, "head.fc");
        string probabilities = b.Softmax(logits, 1, "probabilities");
        string index = b.ArgMax(probabilities, 1, keepDims: false);
        string label = b.Gather(b.AddInitializer(ClassNames, [classes], "class_names"), index);
        b.AddOutput(b.Identity(probabilities, "probabilities"), OnnxDataType.Float, "batch", classes);
        b.AddOutput(b.Identity(index, "index"), OnnxDataType.Int64, "batch");
        b.AddOutput(b.Identity(label, "label"), OnnxDataType.String, "batch");
        var model = b.BuildModel();
        Assert.Equal((7L, 13L), (model.IrVersion, model.OperatorSets()[""]));
        Assert.Equal(new[] { "body.0.weight", "body.0.bias", "body.1.weight" }, b.Graph.Initializer.Skip(2).Take(3).Select(t => t.Name));

        using var session = new InferenceSession(OnnxModelWriter.Write(model));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, [n, cin, size, size])) });
        float[] ortProbabilities = results.Single(r => r.Name == "probabilities").AsTensor<float>().ToArray();
        long[] ortIndex = results.Single(r => r.Name == "index").AsTensor<long>().ToArray();
        string[] ortLabel = results.Single(r => r.Name == "label").AsTensor<string>().ToArray();

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var t = (tensor(x).reshape(n, cin, size, size) - tensor(mean).reshape(1, cin, 1, 1)) / tensor(std).reshape(1, cin, 1, 1);
        t = F.conv2d(t, tensor(convW).reshape(cout, cin, 3, 3), tensor(convB), [1, 1], [1, 1]);
        t = F.batch_norm(t, tensor(runMean), tensor(runVar), tensor(gamma), tensor(beta), false, 0.1, 1e-5);
        t = F.max_pool2d(F.relu(t), [2, 2], [2, 2]);
        t = cat([F.adaptive_avg_pool2d(t, [1, 1]), F.adaptive_max_pool2d(t, [1, 1])], 1).flatten(1);
        var torchProbabilities = F.softmax(F.linear(t, tensor(fcW).reshape(classes, 2 * cout), tensor(fcB)), 1);
        float[] expected = torchProbabilities.data<float>().ToArray();
        long[] expectedIndex = torchProbabilities.argmax(1).data<long>().ToArray();

        Assert.Equal(n * classes, ortProbabilities.Length);
        output.WriteLine($"classifier: max |ORT - TorchSharp| over probabilities = {MaxAbsDiff(expected, ortProbabilities):E2}");
        Assert.True(MaxAbsDiff(expected, ortProbabilities) < Tolerances.Probability, $"max |ORT - TorchSharp| = {MaxAbsDiff(expected, ortProbabilities)}");
        Assert.True(ortProbabilities.Max() - ortProbabilities.Min() > 0.1f, "weights too weak: the comparison would be trivial");
        Assert.Equal(expectedIndex, ortIndex);
        Assert.Equal(expectedIndex.Select(i => ClassNames[i]), ortLabel);
    }

    [Fact]
    public void ShapeAndArithmeticOps_MatchTorchSharp()
    {
        const int n = 2, c = 4, size = 6, cout = 6, features = 3;
        var rng = new Random(11);
        float[] x = Random(rng, n * c * size * size, 1f);
        float[] convW = Random(rng, cout * (c / 2) * 3 * 3, 0.4f), convB = Random(rng, cout, 0.1f);
        float[] scale = Random(rng, cout, 1f);
        float[] projection = Random(rng, cout * 3 * 3 * features, 0.3f);

        var b = new OnnxGraphBuilder();
        string input = b.AddInput("x", OnnxDataType.Float, "n", c, size, size);
        string conv = b.Conv(input, convW, [cout, c / 2, 3, 3], convB, strides: [2, 2], pads: [1, 1, 1, 1], group: 2, dilations: [1, 1]);
        string pooled = b.AveragePool(conv, [3, 3], [1, 1], [1, 1, 1, 1], countIncludePad: true);
        string h = b.Mul(b.Add(conv, pooled), b.AddInitializer(scale, [1, cout, 1, 1], "scale"));
        h = b.Sub(h, b.Constant(OnnxTensor.FromFloats("half", [0.5f], 1)));
        h = b.Reshape(h, [0, -1]);
        string projected = b.MatMul(h, b.AddInitializer(projection, [cout * 3 * 3, features], "projection"));
        string picked = b.Gather(projected, b.AddInitializer(new long[] { 2, 0 }, [2], "pick"), axis: 1);
        string truncated = b.Cast(b.Mul(projected, b.AddInitializer([10f], [1], "ten")), OnnxDataType.Int64);
        b.AddOutput(b.Identity(projected, "features"), OnnxDataType.Float, "n", features);
        b.AddOutput(b.Identity(picked, "picked"), OnnxDataType.Float, "n", 2);
        b.AddOutput(b.Identity(truncated, "truncated"), OnnxDataType.Int64, "n", features);

        using var session = new InferenceSession(OnnxModelWriter.Write(b.BuildModel()));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [n, c, size, size])) });
        float[] ortFeatures = results.Single(r => r.Name == "features").AsTensor<float>().ToArray();
        float[] ortPicked = results.Single(r => r.Name == "picked").AsTensor<float>().ToArray();
        long[] ortTruncated = results.Single(r => r.Name == "truncated").AsTensor<long>().ToArray();

        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var tConv = F.conv2d(tensor(x).reshape(n, c, size, size), tensor(convW).reshape(cout, c / 2, 3, 3), tensor(convB), [2, 2], [1, 1], [1, 1], 2);
        var tPooled = F.avg_pool2d(tConv, [3, 3], [1, 1], [1, 1], false, true);
        var t = (tConv + tPooled) * tensor(scale).reshape(1, cout, 1, 1) - 0.5f;
        var tFeatures = t.reshape(n, -1).matmul(tensor(projection).reshape(cout * 9, features));
        float[] expected = tFeatures.data<float>().ToArray();
        float[] expectedPicked = tFeatures.index_select(1, tensor(new long[] { 2, 0 })).data<float>().ToArray();
        long[] expectedTruncated = (tFeatures * 10f).to_type(ScalarType.Int64).data<long>().ToArray();

        output.WriteLine($"shape/arithmetic ops: max |ORT - TorchSharp| = {MaxAbsDiff(expected, ortFeatures):E2} (features, |max| {expected.Max(Math.Abs):F2})");
        double featureBound = Tolerances.RelativeActivation * Math.Max(1, expected.Max(Math.Abs));
        Assert.True(MaxAbsDiff(expected, ortFeatures) < featureBound, $"max |ORT - TorchSharp| = {MaxAbsDiff(expected, ortFeatures)}");
        Assert.True(MaxAbsDiff(expectedPicked, ortPicked) < featureBound);
        // Truncation toward zero can differ by one only where 10·feature lands within float error of an integer.
        Assert.All(expectedTruncated.Zip(ortTruncated), p => Assert.True(Math.Abs(p.First - p.Second) <= 1, $"{p.First} vs {p.Second}"));
        Assert.Equal(ortFeatures.Select(v => (long)(v * 10f)), ortTruncated);
    }

    [Fact]
    public void StringClassNames_GatheredFromAConstantNode_ComeOutOfOnnxRuntime()
    {
        var b = new OnnxGraphBuilder();
        string index = b.AddInput("index", OnnxDataType.Int64, "n");
        string names = b.Constant(OnnxTensor.FromStrings("", ClassNames, ClassNames.Length), "class_names");
        b.AddOutput(b.Identity(b.Gather(names, index), "label"), OnnxDataType.String, "n");

        using var session = new InferenceSession(OnnxModelWriter.Write(b.BuildModel()));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("index", new DenseTensor<long>(new long[] { 4, 0, 2, 2 }, [4])) });

        Assert.Equal(new[] { "ship", "cat", "frog", "frog" }, results.Single().AsTensor<string>().ToArray());
    }

    [Fact]
    public void Names_AreUnique_AndBadWiringIsRejected()
    {
        var b = new OnnxGraphBuilder("g");
        string x = b.AddInput("x", OnnxDataType.Float, 1, 4);
        string a = b.Relu(x);
        string c = b.Relu(a);
        Assert.NotEqual(a, c);
        Assert.Equal(new[] { "Relu", "Relu_1" }, b.Graph.Node.Select(node => node.Name));
        Assert.Equal("w", b.AddInitializer([1f], [1], "w"));
        Assert.Equal("w_1", b.AddInitializer([1f], [1], "w"));
        Assert.Equal("x_1", b.UniqueName("x"));

        var unknown = Assert.Throws<InvalidOperationException>(() => b.Add(x, "nowhere"));
        Assert.Contains("'nowhere'", unknown.Message);
        Assert.Throws<InvalidOperationException>(() => b.AddInput("x", OnnxDataType.Float, 1));
        Assert.Throws<InvalidOperationException>(() => b.AddOutput("missing", OnnxDataType.Float, 1));
        var badCount = Assert.Throws<ArgumentException>(() => b.AddInitializer([1f, 2f, 3f], [2, 2], "fc.weight"));
        Assert.Contains("fc.weight", badCount.Message);
        var badPads = Assert.Throws<ArgumentException>(() => b.Conv(x, new float[8], [2, 1, 2, 2], pads: [1, 1], name: "stem"));
        Assert.Contains("pads", badPads.Message);
    }

    private static float[] Random(Random rng, int count, float scale) =>
        Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
    }
}
