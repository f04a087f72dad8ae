using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Vision.Export.Int8;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Onnx;

/// <summary>The int8 export's rounding of the stem: compensated rounding (GPTQ's update) and the patch moments it uses.</summary>
public sealed class Int8RoundingTests(ITestOutputHelper output)
{
    [Fact]
    public void CompensatedRounding_WithUncorrelatedInputs_RoundsEachWeightToItsNearestStep()
    {
        // With H diagonal no weight's error can be cancelled by another's, so the update moves nothing.
        const int size = 27;
        var random = new Random(3);
        var moments = new double[size * size];
        for (int i = 0; i < size; i++) moments[i * size + i] = 0.5 + random.NextDouble();
        var weights = Enumerable.Range(0, size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float scale = weights.Max(Math.Abs) / 127f;
        var rounded = new sbyte[size];
        new CompensatedRounding(moments, size).Round(weights, scale, rounded);
        Assert.Equal(weights.Select(w => (sbyte)Math.Round((double)w / scale)).ToArray(), rounded);
    }

    [Fact]
    public void CompensatedRounding_OnGreyPatches_CancelsTheErrorsThatNearestRoundingLeaves()
    {
        // A colour-opponent 3×7×7 filter (red minus green, a little blue) on grey patches (R = G = B at every tap),
        // whose response in float32 is small: rounding each weight to its nearest step leaves per-tap errors that no
        // longer cancel; compensated rounding moves each error onto the taps that see the same grey.
        const int taps = 49, size = 3 * taps;
        var random = new Random(11);
        var weights = new float[size];
        for (int t = 0; t < taps; t++)
        {
            float w = (float)(random.NextDouble() * 2 - 1);
            weights[t] = w;
            weights[taps + t] = -w + (float)(random.NextDouble() - 0.5) * 0.02f;
            weights[2 * taps + t] = (float)(random.NextDouble() - 0.5) * 0.1f;
        }
        var patches = new List<double[]>();
        for (int n = 0; n < 2000; n++)
        {
            var patch = new double[size];
            for (int t = 0; t < taps; t++) patch[t] = patch[taps + t] = patch[2 * taps + t] = random.Next(256);
            patches.Add(patch);
        }
        var moments = new double[size * size];
        foreach (var p in patches)
            for (int r = 0; r < size; r++)
                for (int c = 0; c < size; c++) moments[r * size + c] += p[r] * p[c] / patches.Count;

        float scale = weights.Max(Math.Abs) / 127f;
        var nearest = weights.Select(w => (sbyte)Math.Round((double)w / scale)).ToArray();
        var compensated = new sbyte[size];
        new CompensatedRounding(moments, size).Round(weights, scale, compensated);

        double OutputError(sbyte[] q) => patches.Average(p =>
        {
            double e = 0;
            for (int i = 0; i < size; i++) e += (q[i] * scale - weights[i]) * p[i];
            return e * e;
        });
        double before = OutputError(nearest), after = OutputError(compensated);
        output.WriteLine($"mean squared output error: nearest {before:G4}, compensated {after:G4} ({after / before:0.000}×)");
        Assert.True(compensated.Zip(weights).All(p => Math.Abs(p.First * scale - p.Second) <= 4 * scale), "a weight moved more than a few steps");
        Assert.InRange(after, 0, before / 4);
    }

    [Fact]
    public void PatchMoments_AreTheMeanOuterProductOfEveryPatch_PaddedWithEachChannelsValue()
    {
        const int channels = 2, height = 4, width = 5;
        var conv = new NodeProto { Name = "conv", OpType = "Conv" };
        conv.Attribute.Add(OnnxAttribute.IntList("kernel_shape", 3, 3));
        conv.Attribute.Add(OnnxAttribute.IntList("strides", 2, 2));
        conv.Attribute.Add(OnnxAttribute.IntList("pads", 1, 1, 1, 1));
        float[] padding = [7, 9];
        var moments = PatchMoments.For(conv, channels, padding);
        var random = new Random(5);
        var images = Enumerable.Range(0, 2 * channels * height * width).Select(_ => (float)random.Next(256)).ToArray();
        moments.Add(images, 2, height, width);

        var expected = new double[moments.Size * moments.Size];
        int patches = 0;
        for (int image = 0; image < 2; image++)
            for (int oy = 0; oy < 2; oy++)
                for (int ox = 0; ox < 3; ox++, patches++)
                {
                    var patch = new List<double>();
                    for (int c = 0; c < channels; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int y = oy * 2 - 1 + ky, x = ox * 2 - 1 + kx;
                                patch.Add(y is >= 0 and < height && x is >= 0 and < width ? images[((image * channels + c) * height + y) * width + x] : padding[c]);
                            }
                    for (int r = 0; r < patch.Count; r++)
                        for (int c = 0; c < patch.Count; c++) expected[r * patch.Count + c] += patch[r] * patch[c];
                }
        var actual = moments.Moments();
        Assert.Equal(18, moments.Size);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i] / patches, actual[i], 9);
    }
}
