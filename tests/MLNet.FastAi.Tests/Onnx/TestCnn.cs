using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>Random-weight CNNs whose batch norms hold non-trivial affine parameters and running statistics.</summary>
internal static class TestCnn
{
    public static CnnModel Create(ResNetArchitecture architecture, int classes, int height, int width, int seed, NormalizationStats normalization)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(seed);
        var model = new CnnModel(architecture, classes);
        using (no_grad())
        {
            foreach (var norm in model.modules().OfType<TorchSharp.Modules.BatchNorm>())
            {
                norm.weight!.uniform_(0.5, 1.5);
                norm.bias!.uniform_(-0.2, 0.2);
            }
            // Training-mode passes move the running statistics away from their (0, 1) start.
            model.train();
            for (int i = 0; i < 4; i++)
            {
                using var scope = NewDisposeScope();
                model.call(Normalize(RandomPixels(4, height, width), normalization));
            }
        }
        model.eval();
        return model;
    }

    /// <summary>Raw planar RGB in 0..255, as ML.NET's ExtractPixels gives.</summary>
    public static Tensor RandomPixels(long count, int height, int width) => rand(count, 3, height, width).mul_(255f);

    /// <summary>The training pipeline's normalization: /255, then (x − mean)/std per channel.</summary>
    public static Tensor Normalize(Tensor pixels, NormalizationStats stats)
    {
        var mean = tensor(Enumerable.Range(0, 3).Select(stats.MeanOf).ToArray()).reshape(1, 3, 1, 1);
        var std = tensor(Enumerable.Range(0, 3).Select(stats.StdOf).ToArray()).reshape(1, 3, 1, 1);
        return pixels.div(255f).sub_(mean).div_(std);
    }

    /// <summary>Eval-mode softmax probabilities of <paramref name="model"/> on raw pixels.</summary>
    public static float[] Probabilities(CnnModel model, Tensor pixels, NormalizationStats stats)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return nn.functional.softmax(model.call(Normalize(pixels, stats)), 1).data<float>().ToArray();
    }
}
