using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class ImageGridTests
{
    private static readonly SKColor[] Saturated =
    [
        new(230, 25, 75), new(60, 180, 75), new(0, 130, 200), new(245, 130, 48), new(145, 30, 180),
        new(70, 240, 240), new(240, 50, 230), new(210, 245, 60), new(0, 128, 128),
    ];

    private static bool IsTilePixel(SKColor c) => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue)) > 60;

    private static ImageTile Solid(SKColor color, int width, int height, string? title = null)
    {
        var pixels = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
        {
            pixels[3 * p] = color.Red;
            pixels[3 * p + 1] = color.Green;
            pixels[3 * p + 2] = color.Blue;
        }
        return ImageTile.FromRgbHwc(pixels, width, height, title);
    }

    [Fact]
    public void SevenDigits_MakeSevenTilesInThreeColumns_EachEnlargedToTheTileSize()
    {
        var tiles = Enumerable.Range(0, 7).Select(i => Solid(Saturated[i], 28, 28, $"label {i}")).ToList();

        var probe = new PngProbe(ImageGrid.ToPng(tiles));

        probe.AssertIsAPicture();
        var regions = probe.Regions(IsTilePixel, 1000);
        Assert.Equal(7, regions.Count);
        Assert.All(regions, r => Assert.Equal((160, 160), (r.Bounds.Width, r.Bounds.Height)));
        Assert.Equal(3, regions.Select(r => r.Bounds.Left).Distinct().Count());
        Assert.Equal(3, regions.Select(r => r.Bounds.Top).Distinct().Count());
        for (var i = 0; i < 7; i++) // filled row by row, in order
        {
            var expected = regions.OrderBy(r => r.Bounds.Top).ThenBy(r => r.Bounds.Left).ElementAt(i).Bounds;
            Assert.True(PngProbe.Near(probe[expected.MidX, expected.MidY], Saturated[i], 2), $"tile {i} is not where it belongs");
        }
    }

    [Fact]
    public void WideImage_KeepsItsAspectRatio()
    {
        var probe = new PngProbe(ImageGrid.ToPng([Solid(Saturated[0], 56, 28), Solid(Saturated[1], 30, 90)], new ImageGridOptions { TileSize = 120 }));

        var regions = probe.Regions(IsTilePixel, 500).OrderBy(r => r.Bounds.Left).ToList();
        Assert.Equal((120, 60), (regions[0].Bounds.Width, regions[0].Bounds.Height));
        Assert.Equal((40, 120), (regions[1].Bounds.Width, regions[1].Bounds.Height));
    }

    [Fact]
    public void SmallImages_AreEnlargedWithCrispPixels()
    {
        // A 4×4 checkerboard enlarged to 160 px must stay a checkerboard of 40 px squares, not a grey blur.
        var checker = new byte[16];
        for (var i = 0; i < 16; i++)
            checker[i] = (byte)((i / 4 + i % 4) % 2 == 0 ? 0 : 255);
        var probe = new PngProbe(ImageGrid.ToPng([ImageTile.FromGray(checker, 4, 4)]));

        var picture = probe.Bounds(c => c.Red < 128);
        var tile = new SKRectI(picture.Left, picture.Top, picture.Left + 160, picture.Top + 160);
        Assert.Equal(2, probe.DistinctColors(tile));
        Assert.Equal(new SKColor(0, 0, 0), probe[tile.Left + 20, tile.Top + 20]);
        Assert.Equal(new SKColor(255, 255, 255), probe[tile.Left + 60, tile.Top + 20]);
        Assert.Equal(new SKColor(0, 0, 0), probe[tile.Left + 60, tile.Top + 60]);
    }

    [Fact]
    public void InterleavedPlanarAndNormalizedPixels_GiveTheSamePicture()
    {
        const int w = 5, h = 3;
        var hwc = new byte[w * h * 3];
        for (var i = 0; i < hwc.Length; i++)
            hwc[i] = (byte)(i * 17 % 256);
        var chw = new byte[hwc.Length];
        var normalized = new float[hwc.Length];
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        for (var p = 0; p < w * h; p++)
            for (var c = 0; c < 3; c++)
            {
                chw[c * w * h + p] = hwc[3 * p + c];
                normalized[c * w * h + p] = (hwc[3 * p + c] / 255f - mean[c]) / std[c];
            }

        var fromHwc = ImageGrid.ToPng([ImageTile.FromRgbHwc(hwc, w, h)]);
        Assert.Equal(fromHwc, ImageGrid.ToPng([ImageTile.FromRgbChw(chw, w, h)]));
        Assert.Equal(fromHwc, ImageGrid.ToPng([ImageTile.FromNormalizedChw(normalized, w, h, mean, std)]));
    }

    [Fact]
    public void TopLossTitles_ReadLikeFastaiAndAreRedWhenWrong()
    {
        var digit = new byte[28 * 28];
        var wrong = ImageTile.FromGray(digit, 28, 28).WithTopLossTitle("3", "8", 4.2071, 0.0213);
        var right = ImageTile.FromGray(digit, 28, 28).WithTopLossTitle("8", "8", 0.71, 0.49);

        Assert.Equal("3/8 / 4.21 / 0.02", wrong.Title);
        Assert.Equal(System.Drawing.Color.FromArgb(255, 0, 0), wrong.TitleColor);
        Assert.Equal(System.Drawing.Color.FromArgb(0, 128, 0), right.TitleColor);
        Assert.Equal("cat\ndog", ImageTile.FromGray(digit, 28, 28).WithResultTitle("cat", "dog").Title);

        var probe = new PngProbe(ImageGrid.ToPng([wrong, right], new ImageGridOptions { Title = ImageGrid.TopLossesTitle }));
        var picture = probe.Bounds(c => c.Red < 10 && c.Green < 10 && c.Blue < 10);
        Assert.True(picture.Height >= 160, "the black digits are missing");
        if (PlotColors.FontsInstalled)
        {
            Assert.True(probe.Count(c => c.Red > 200 && c.Green < 80 && c.Blue < 80) > 20, "no red title for the wrong prediction");
            Assert.True(probe.Count(c => c.Green > 90 && c.Red < 60 && c.Blue < 60) > 20, "no green title for the right prediction");
        }
    }

    [Fact]
    public void Tiles_LoadFromImageFiles()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "photo.png");
        File.WriteAllBytes(path, ImageGrid.ToPng([Solid(Saturated[2], 20, 10)], new ImageGridOptions { TileSize = 40 }));

        var tile = ImageTile.FromFile(path, "photo");

        Assert.Equal("photo", tile.Title);
        Assert.Equal(40 + 2 * 12, tile.Width);
        var junk = Path.Combine(folder.Path, "junk.jpg");
        File.WriteAllText(junk, "not an image");
        Assert.Contains("junk.jpg", Assert.Throws<ArgumentException>(() => ImageTile.FromFile(junk)).Message);
    }

    [Fact]
    public void WrongPixelCounts_AreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageTile.FromRgbHwc(new byte[10], 2, 2));
        Assert.Equal("pixels", error.ParamName);
        Assert.Contains("needs 12", error.Message);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => ImageTile.FromNormalizedChw(new float[7], 2, 2)).ParamName);
        Assert.Equal("tiles", Assert.Throws<ArgumentException>(() => ImageGrid.ToPng([])).ParamName);
    }
}
