using MLNet.FastAi.Data;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Data;

/// <summary>Normalization statistics computed from the training images equal the analytic values of known images.</summary>
public sealed class ComputeStatsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-stats-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Solid(string relative, byte r, byte g, byte b)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(8, 8);
        bitmap.Erase(new SKColor(r, g, b));
        using var file = File.Create(path);
        bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
    }

    [Fact]
    public void ComputeStats_GivesPerChannelMeanAndStdOfTheTrainingImages()
    {
        Solid("train/a/1.png", 255, 0, 51);
        Solid("train/b/2.png", 0, 0, 153);
        Solid("valid/a/3.png", 10, 10, 10);   // validation images must not count
        Solid("valid/b/4.png", 10, 10, 10);
        using var data = ImageDataLoaders.FromFolder(_root);
        var stats = data.ComputeStats();
        // Red: half the pixels 1, half 0 → mean 0.5, std 0.5. Green: all 0. Blue: 0.2 and 0.6 → mean 0.4, std 0.2.
        Assert.Equal(0.5, stats.Mean[0], 5);
        Assert.Equal(0.0, stats.Mean[1], 5);
        Assert.Equal(0.4, stats.Mean[2], 5);
        Assert.Equal(0.5, stats.Std[0], 5);
        Assert.Equal(0.2, stats.Std[2], 5);
        Assert.True(stats.Std[1] > 0, "a constant channel still gets a positive std so normalization stays finite");
    }
}
