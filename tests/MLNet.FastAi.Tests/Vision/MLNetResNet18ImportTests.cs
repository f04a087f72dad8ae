using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;
using static TorchSharp.torch;
using MLNet.FastAi.Tests.Support;

namespace MLNet.FastAi.Tests.Vision;

/// <summary>The import of ML.NET's ImageNet ResNet-18 (a CNTK export) must reproduce that network exactly.</summary>
public class MLNetResNet18ImportTests
{
    public MLNetResNet18ImportTests() => TorchRuntime.EnsureInitialized();

    [Fact]
    public void ImportedBody_GivesOnnxRuntimesFeatures_OnTheSameInput()
    {
        float[] cntkMeans = MLNetResNet18Weights.ChannelMeansRgb();
        // Statistics that make the package's input exactly the CNTK input (255·x − m), so the fold is the identity
        // up to the BGR→RGB channel order and the whole image, borders included, must match.
        var cntkSpace = new NormalizationStats(cntkMeans.Select(m => m / 255f).ToArray(), new[] { 1 / 255f });
        using var body = new ResNetBody(ResNetArchitecture.ResNet18Cntk);
        MLNetResNet18Weights.Load(body, cntkSpace);
        body.eval();

        var generator = new Random(7);
        var bgr = new float[3 * 224 * 224];
        for (int i = 0; i < bgr.Length; i++) bgr[i] = (float)(generator.NextDouble() * 255 - cntkMeans[2 - i / (224 * 224)]);

        using var session = new InferenceSession(MLNetResNet18Weights.LocateOnnx());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(bgr, new[] { 1, 3, 224, 224 })) });
        float[] expected = results.First().AsEnumerable<float>().ToArray();

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rgb = tensor(bgr).reshape(1, 3, 224, 224).flip(1);
        float[] actual = body.call(rgb).mean(new long[] { 2, 3 }).data<float>().ToArray();

        Assert.Equal(512, expected.Length);
        Assert.Equal(512, actual.Length);
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(maxDiff < Tolerances.RelativeActivation * Math.Max(1, expected.Max(Math.Abs)), $"max abs difference {maxDiff} between the imported body and ONNX Runtime");
        Assert.True(expected.Max() > 0.1, "features should not be all zero");
    }

    [Fact]
    public void FoldedNormalization_EqualsExplicitCntkPreprocessing_AwayFromTheBorder()
    {
        float[] cntkMeans = MLNetResNet18Weights.ChannelMeansRgb();
        var identity = new NormalizationStats(cntkMeans.Select(m => m / 255f).ToArray(), new[] { 1 / 255f });
        using var reference = new ResNetBody(ResNetArchitecture.ResNet18Cntk);
        MLNetResNet18Weights.Load(reference, identity);
        using var folded = new ResNetBody(ResNetArchitecture.ResNet18Cntk);
        MLNetResNet18Weights.Load(folded, NormalizationStats.Mnist);
        reference.eval();
        folded.eval();

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(3);
        var pixels = rand(2, 3, 40, 40);                                  // RGB in 0..1
        var mnist = (pixels - 0.131f) / 0.308f;                            // what the data pipeline feeds
        var cntk = pixels * 255f - tensor(cntkMeans).reshape(1, 3, 1, 1);  // what the CNTK network expects (RGB order)
        var a = folded.StemNorm.call(folded.StemConv.call(mnist));
        var b = reference.StemNorm.call(reference.StemConv.call(cntk));
        // Stride 2, padding 3, kernel 7: outputs 2..17 of 20 never touch the zero padding.
        var inner = (TorchSharp.torch.Tensor t) => t[.., .., 2..18, 2..18];
        double maxDiff = (inner(a) - inner(b)).abs().max().item<float>();
        double scale = inner(b).abs().max().item<float>();
        Assert.True(maxDiff < Tolerances.RelativeActivation * Math.Max(1, scale), $"max abs difference {maxDiff} (activations up to {scale})");
    }

    [Fact]
    public void TrimmedResNet18_TakesAllButTheExtraBlock()
    {
        using var body = new ResNetBody(ResNetArchitecture.ResNet18);
        MLNetResNet18Weights.Load(body, NormalizationStats.ImageNet);
        Assert.Equal(20, body.modules().OfType<TorchSharp.Modules.Conv2d>().Count());
        // Every batch norm now carries ImageNet statistics rather than the fresh 0/1 initialisation.
        Assert.All(body.modules().OfType<TorchSharp.Modules.BatchNorm2d>(), bn => Assert.NotEqual(1f, bn.running_var!.mean().item<float>()));
    }

    [Fact]
    public void WrongArchitecture_IsRefusedWithItsName()
    {
        using var body = new ResNetBody(ResNetArchitecture.ResNet34);
        var error = Assert.Throws<ArgumentException>(() => MLNetResNet18Weights.Load(body, NormalizationStats.ImageNet));
        Assert.Contains("resnet34", error.Message);
    }
}
