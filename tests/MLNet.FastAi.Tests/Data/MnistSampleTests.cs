using SkiaSharp;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// The committed real-MNIST sample (examples/data/mnist_sample, made by scripts/make-mnist-sample.sh) is complete
/// and every file is a readable 28×28 digit, so examples and tests can rely on it.
/// </summary>
public class MnistSampleTests
{
    private static readonly string SampleFolder = FindSample();

    [Theory]
    [InlineData("training", 0, 120)]
    [InlineData("testing", 120, 30)]
    public void Split_HasTenDigitFolders_WithTheExpectedNumberedPngs(string split, int firstIndex, int perDigit)
    {
        var folder = Path.Combine(SampleFolder, split);
        var digits = Directory.GetDirectories(folder).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(d => d.ToString()), digits);
        foreach (var digit in digits)
        {
            var names = Directory.GetFiles(Path.Combine(folder, digit!)).Select(f => Path.GetFileName(f)).ToHashSet();
            var expected = Enumerable.Range(firstIndex, perDigit).Select(i => $"{i}.png").ToHashSet();
            Assert.True(expected.SetEquals(names), $"{split}/{digit} holds {names.Count} files, not PNGs {firstIndex}..{firstIndex + perDigit - 1}.");
        }
    }

    [Fact]
    public void EveryPng_Decodes_As28By28_WithADigitOnBlack_AndNoImageIsInBothSplits()
    {
        var seen = new Dictionary<string, string>();
        var pngs = Directory.GetFiles(SampleFolder, "*.png", SearchOption.AllDirectories);
        Assert.Equal(1500, pngs.Length);
        foreach (var png in pngs)
        {
            using var bitmap = SKBitmap.Decode(png);
            Assert.True(bitmap is not null, $"{png} does not decode.");
            Assert.Equal((28, 28), (bitmap.Width, bitmap.Height));

            var gray = new byte[28 * 28];
            for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
            {
                var c = bitmap.GetPixel(x, y);
                Assert.True(c.Red == c.Green && c.Green == c.Blue, $"{png} is not grayscale at ({x}, {y}).");
                gray[y * 28 + x] = c.Red;
            }
            int ink = gray.Count(v => v > 128), background = gray.Count(v => v == 0);
            Assert.True(ink >= 20, $"{png} has only {ink} bright pixels; it looks blank.");
            Assert.True(background >= 28 * 28 / 2, $"{png} has only {background} black pixels; MNIST digits are drawn on black.");

            var key = Convert.ToHexString(gray);
            Assert.False(seen.TryGetValue(key, out var twin), $"{png} has the same pixels as {twin}.");
            seen[key] = png;
        }
    }

    private static string FindSample()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", "data", "mnist_sample");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"examples/data/mnist_sample not found above {AppContext.BaseDirectory}.");
    }
}
