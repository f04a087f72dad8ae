using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data;

public sealed partial class ImageDataLoaders
{
    /// <summary>
    /// Per-channel mean and standard deviation of the training images (pixels scaled to 0..1), as fastai's
    /// <c>Normalize.from_stats()</c> computes them when no statistics are given. Pass the result to <see cref="Normalize"/>.
    /// </summary>
    public NormalizationStats ComputeStats()
    {
        using var scope = NewDisposeScope();
        var images = Decoded(Train).Images;
        var sum = zeros(3, dtype: ScalarType.Float64);
        var squares = zeros(3, dtype: ScalarType.Float64);
        const int chunk = 4096;
        for (long start = 0; start < images.shape[0]; start += chunk)
        {
            using var inner = NewDisposeScope();
            // Chunks keep the float copy small; float64 sums keep large datasets exact enough.
            var x = images.narrow(0, start, Math.Min(chunk, images.shape[0] - start)).to(ScalarType.Float64).div_(255.0);
            sum.add_(x.sum(new long[] { 0, 2, 3 }));
            squares.add_(x.square().sum(new long[] { 0, 2, 3 }));
        }
        double count = images.shape[0] * images.shape[2] * images.shape[3];
        var mean = (sum / count).data<double>().ToArray();
        var meanSquares = (squares / count).data<double>().ToArray();
        var std = mean.Select((m, c) => Math.Sqrt(Math.Max(meanSquares[c] - m * m, 1e-12))).ToArray();
        return new NormalizationStats(mean.Select(v => (float)v).ToArray(), std.Select(v => (float)v).ToArray());
    }
}
