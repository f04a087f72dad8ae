using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>Exported CNNs, run in ONNX Runtime, must predict what the TorchSharp model predicts in eval mode.</summary>
public class CnnOnnxExporterTests(ITestOutputHelper output)
{
    private static readonly string[] Classes = ["zebra", "ant", "cat", "dog", "eel"];

    [Theory]
    [InlineData("resnet18", 3)]
    [InlineData("resnet18-cntk", 2)]
    [InlineData("resnet50", 2)]
    public void Export_MatchesTorchSharpEvalSoftmax(string architecture, int batch)
    {
        const int height = 32, width = 48;
        var stats = NormalizationStats.ImageNet;
        using var model = TestCnn.Create(ResNetArchitecture.FromName(architecture), Classes.Length, height, width, seed: 5, stats);
        using var scope = NewDisposeScope();
        var pixels = TestCnn.RandomPixels(batch, height, width);
        float[] expected = TestCnn.Probabilities(model, pixels, stats);

        byte[] onnx = CnnOnnxExporter.ExportBytes(model, width, height, stats, Classes, CnnOnnxSignature.Standalone);
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor<float>(pixels.data<float>().ToArray(), [batch, 3, height, width]))]);
        var score = results.Single(r => r.Name == "Score").AsTensor<float>();
        long[] index = results.Single(r => r.Name == "PredictedIndex").AsTensor<long>().ToArray();
        string[] label = results.Single(r => r.Name == "PredictedLabel").AsTensor<string>().ToArray();

        Assert.Equal(new[] { batch, Classes.Length }, score.Dimensions.ToArray());
        float[] actual = score.ToArray();
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{architecture}: max |ORT - TorchSharp| = {maxDiff:E2}; probabilities span {actual.Min():F4}..{actual.Max():F4}");
        Assert.True(maxDiff < Tolerances.Probability, $"max |ORT - TorchSharp| = {maxDiff}");
        Assert.True(actual.Max() - actual.Min() > 0.05, "the probabilities are nearly uniform: the comparison would prove little");
        Assert.True(actual.Max() < 0.9999, "the probabilities are saturated: the comparison would prove little");
        for (int n = 0; n < batch; n++)
        {
            var row = actual.AsSpan(n * Classes.Length, Classes.Length).ToArray();
            Assert.Equal(1.0, row.Sum(), 4);
            Assert.Equal(Array.IndexOf(row, row.Max()), index[n]);
            Assert.Equal(Classes[index[n]], label[n]);
        }
    }

    [Fact]
    public void BatchNorms_AreFoldedAway()
    {
        using var model = TestCnn.Create(ResNetArchitecture.ResNet18, 2, 32, 32, seed: 1, NormalizationStats.Cifar);
        var graph = CnnOnnxExporter.Export(model, 32, 32, NormalizationStats.Cifar, ["a", "b"], CnnOnnxSignature.Standalone).Graph;

        Assert.DoesNotContain(graph.Node, n => n.OpType is "BatchNormalization" or "Dropout");
        Assert.Equal(20, graph.Node.Count(n => n.OpType == "Conv"));  // 1 stem + 16 main-path + 3 projection shortcuts
        Assert.Equal(2, graph.Node.Count(n => n.OpType == "Gemm"));
        Assert.All(graph.Node.Where(n => n.OpType is "Conv" or "Gemm"), n => Assert.Equal(3, n.Input.Count)); // every layer got a bias
    }

    [Fact]
    public void MLNetRowSignature_ScoresOneImage_WithAOneHotPrediction_AndNamesItsSlots()
    {
        const int size = 32;
        var stats = NormalizationStats.Mnist;  // a single mean and std, broadcast to the three channels
        string[] classes = ["b", "a", "c"];
        using var model = TestCnn.Create(ResNetArchitecture.ResNet18, classes.Length, size, size, seed: 9, stats);
        using var scope = NewDisposeScope();
        var pixels = TestCnn.RandomPixels(1, size, size);
        float[] expected = TestCnn.Probabilities(model, pixels, stats);

        var signature = CnnOnnxSignature.MLNetRow;
        var exported = CnnOnnxExporter.Export(model, size, size, stats, classes, signature);
        using var session = new InferenceSession(OnnxModelWriter.Write(exported));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(signature.PixelsInput, new DenseTensor<float>(pixels.data<float>().ToArray(), [1, 3, size, size]))]);
        var score = results.Single(r => r.Name == signature.ScoreOutput).AsTensor<float>();
        var oneHot = results.Single(r => r.Name == signature.PredictedOneHotOutput).AsTensor<float>();

        Assert.Equal(new[] { classes.Length }, score.Dimensions.ToArray());
        Assert.Equal(new[] { classes.Length }, oneHot.Dimensions.ToArray());
        Assert.True(expected.Zip(score.ToArray(), (e, a) => Math.Abs(e - a)).Max() < Tolerances.Probability);
        int best = Array.IndexOf(score.ToArray(), score.ToArray().Max());
        Assert.Equal(Enumerable.Range(0, classes.Length).Select(i => i == best ? 1f : 0f), oneHot.ToArray());

        var slotNames = Assert.Single(exported.Graph.Node, n => n.Name == $"mlnet.{signature.ScoreOutput}.SlotNames");
        Assert.Equal(("LabelEncoder", OnnxGraphBuilder.MLDomain), (slotNames.OpType, slotNames.Domain));
        Assert.Equal(classes, slotNames.Attribute("keys_strings").StringsOf());
        Assert.Equal(classes, JsonSerializer.Deserialize<string[]>(exported.Metadata()[CnnOnnxExporter.ClassesMetadataKey]));
        Assert.Equal(2, exported.OperatorSets()[OnnxGraphBuilder.MLDomain]);
    }

    [Fact]
    public void Export_RejectsClassNamesThatDoNotFitTheModel()
    {
        TorchRuntime.EnsureInitialized();
        using var model = new CnnModel(ResNetArchitecture.ResNet18, 3);
        var stats = NormalizationStats.ImageNet;
        var sig = CnnOnnxSignature.Standalone;

        var count = Assert.Throws<ArgumentException>(() => CnnOnnxExporter.Export(model, 16, 16, stats, ["a", "b"], sig));
        Assert.Contains("3 classes but 2 class names", count.Message);
        var duplicate = Assert.Throws<ArgumentException>(() => CnnOnnxExporter.Export(model, 16, 16, stats, ["a", "b", "a"], sig));
        Assert.Contains("'a' appears more than once", duplicate.Message);
        var empty = Assert.Throws<ArgumentException>(() => CnnOnnxExporter.Export(model, 16, 16, stats, ["a", "", "c"], sig));
        Assert.Contains("#1 is empty", empty.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CnnOnnxExporter.Export(model, 0, 16, stats, ["a", "b", "c"], sig));
        Assert.Throws<ArgumentException>(() => CnnOnnxExporter.Export(model, 16, 16, new NormalizationStats([0f, 0f], [1f, 1f]), ["a", "b", "c"], sig));
    }

    [Fact]
    public void PublicSave_WritesAFileOnnxRuntimeRuns_WithClassNamesInItsMetadata()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fastai-onnx-{Guid.NewGuid():N}");
        try
        {
            using var model = TestCnn.Create(ResNetArchitecture.ResNet18, 2, 24, 24, seed: 3, NormalizationStats.ImageNet);
            string path = Path.Combine(folder, "nested", "model.onnx");
            CnnOnnxExport.Save(model, new ImagePipeline(24, 24), NormalizationStats.ImageNet, ["cat", "dog"], path);

            Assert.Equal(new[] { "model.onnx" }, Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
            using var session = new InferenceSession(path);
            Assert.Equal(new[] { "pixels" }, session.InputMetadata.Keys);
            Assert.Equal(new[] { -1, 3, 24, 24 }, session.InputMetadata["pixels"].Dimensions);
            Assert.Equal(new[] { "Score", "PredictedIndex", "PredictedLabel" }, session.OutputMetadata.Keys);
            Assert.Equal("[\"cat\",\"dog\"]", session.ModelMetadata.CustomMetadataMap[CnnOnnxExporter.ClassesMetadataKey]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor<float>(new float[2 * 3 * 24 * 24], [2, 3, 24, 24]))]);
            Assert.All(results.Single(r => r.Name == "PredictedLabel").AsTensor<string>(), label => Assert.Contains(label, new[] { "cat", "dog" }));

            var foreign = Assert.Throws<ArgumentException>(() => CnnOnnxExport.ToBytes(TorchSharp.torch.nn.Identity(), new ImagePipeline(24, 24), NormalizationStats.ImageNet, ["cat", "dog"]));
            Assert.Contains("Only models built by MLNet.FastAi", foreign.Message);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
