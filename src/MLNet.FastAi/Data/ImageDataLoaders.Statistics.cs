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
        var set = Decoded(Train);
        var sum = zeros(3, dtype: ScalarType.Float64);
        var squares = zeros(3, dtype: ScalarType.Float64);
        // Chunks of about 64 MB of float64 pixels, whatever the image size.
        int chunk = (int)Math.Clamp((64L << 20) / (set.Store.ItemBytes * sizeof(double)), 1, 4096);
        var positions = new long[chunk];
        using var buffer = set.Store.Resident is null ? empty(new long[] { chunk, 3, set.Height, set.Width }, ScalarType.Byte) : null;
        for (long start = 0; start < set.Count; start += chunk)
        {
            using var inner = NewDisposeScope();
            int length = (int)Math.Min(chunk, set.Count - start);
            Tensor images;
            if (set.Store.Resident is { } resident) images = resident.narrow(0, start, length);
            else
            {
                for (int k = 0; k < length; k++) positions[k] = start + k;
                var memory = Caching.PixelMemory.Of(buffer!);
                set.Store.Read(positions.AsSpan(0, length).ToArray(), k => memory.Item(k, set.Store.ItemBytes));
                images = buffer!.narrow(0, 0, length);
            }
            // Chunks keep the float copy small; float64 sums keep large datasets exact enough.
            var x = images.to(ScalarType.Float64).div_(255.0);
            sum.add_(x.sum(new long[] { 0, 2, 3 }));
            squares.add_(x.square().sum(new long[] { 0, 2, 3 }));
        }
        double count = set.Count * set.Height * set.Width;
        var mean = (sum / count).data<double>().ToArray();
        var meanSquares = (squares / count).data<double>().ToArray();
        var std = mean.Select((m, c) => Math.Sqrt(Math.Max(meanSquares[c] - m * m, 1e-12))).ToArray();
        return new NormalizationStats(mean.Select(v => (float)v).ToArray(), std.Select(v => (float)v).ToArray());
    }
}
