using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

/// <summary>
/// ML.NET ImageAnalytics 5.0.1 is built on SkiaSharp 2.88 and breaks beside SkiaSharp 3 (dotnet/machinelearning#7413);
/// the plots use the same SkiaSharp, so a user's image pipeline and every plot must work in one process.
/// </summary>
public class SkiaSharpCoexistenceTests
{
    private sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class PixelOutput
    {
        [VectorType(3 * 8 * 8)]
        public float[] Pixels { get; set; } = [];
    }

    [Fact]
    public void ImageAnalyticsPixelExtraction_AndEveryPlot_RunInOneProcess()
    {
        using var folder = new TemporaryFolder();
        var imagePath = Path.Combine(folder.Path, "solid.png");
        using (var bitmap = new SKBitmap(32, 16, SKColorType.Rgba8888, SKAlphaType.Opaque))
        {
            bitmap.Erase(new SKColor(200, 50, 25));
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(imagePath, data.ToArray());
        }

        var ml = new MLContext(seed: 1);
        var input = ml.Data.LoadFromEnumerable([new ImageInput { ImagePath = imagePath }]);
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", imageWidth: 8, imageHeight: 8))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", interleavePixelColors: false));
        var pixels = ml.Data.CreateEnumerable<PixelOutput>(pipeline.Fit(input).Transform(input), reuseRowObject: false).Single().Pixels;

        Assert.Equal(192, pixels.Length);
        Assert.All(pixels[..64], v => Assert.Equal(200f, v, 1f));   // red plane
        Assert.All(pixels[64..128], v => Assert.Equal(50f, v, 1f)); // green plane
        Assert.All(pixels[128..], v => Assert.Equal(25f, v, 1f));   // blue plane

        var lrs = PlotColors.OneCycle(60, 1e-3);
        var losses = lrs.Select((_, i) => 2.0 / (1 + i * 0.1)).ToArray();
        var finderLrs = Enumerable.Range(0, 50).Select(i => 1e-6 * Math.Pow(10, i / 10.0)).ToArray();
        var pictures = new List<byte[]>
        {
            SchedulePlot.ToPng(lrs, lrs.Select(lr => 0.95 - 100 * lr).ToArray()),
            LossPlot.ToPng(losses, [30, 60], [1.0, 0.5]),
            MetricsPlot.ToPng([new NamedSeries("accuracy", [0.7, 0.9])], [1.0, 0.4], [0.9, 0.5]),
            LrFindPlot.ToPng(finderLrs, finderLrs.Select(lr => 2 + Math.Log10(lr) / 10).ToArray(), [new LrFindMarker("valley", 1e-3)]),
            ConfusionMatrixPlot.ToPng(["a", "b"], new[,] { { 5, 1 }, { 2, 7 } }),
            ImageGrid.ToPng([ImageTile.FromFile(imagePath, "solid")]),
        };
        var report = new HtmlReport("coexistence");
        foreach (var png in pictures)
        {
            new PngProbe(png).AssertIsAPicture(minimumDistinctColors: 2);
            report.AddImage(png);
        }
        Assert.Contains("data:image/png;base64,", report.ToHtml());

        // And ImageAnalytics still works after the plots loaded their SkiaSharp pieces.
        var again = ml.Data.CreateEnumerable<PixelOutput>(pipeline.Fit(input).Transform(input), reuseRowObject: false).Single().Pixels;
        Assert.Equal(pixels, again);
    }
}
