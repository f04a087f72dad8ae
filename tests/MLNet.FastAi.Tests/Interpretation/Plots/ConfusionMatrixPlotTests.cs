using MLNet.FastAi.Interpretation.Plots;
using SkiaSharp;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class ConfusionMatrixPlotTests
{
    /// <summary>Cells of the "Blues" palette are bluer than they are red; the white background and black text are not.</summary>
    private static bool IsCellFill(SKColor c) => c.Blue - c.Red >= 8;

    /// <summary>The colour of each cell, sampled off-centre so the number written in the middle is avoided.</summary>
    private static SKColor[,] SampleCells(PngProbe probe, int classes)
    {
        var grid = probe.Bounds(IsCellFill);
        var cells = new SKColor[classes, classes];
        var size = grid.Width / (double)classes;
        Assert.InRange(grid.Height / (double)classes, size - 2, size + 2); // square cells
        for (var row = 0; row < classes; row++)
            for (var column = 0; column < classes; column++)
                cells[row, column] = probe[(int)(grid.Left + (column + 0.15) * size), (int)(grid.Top + (row + 0.15) * size)];
        return cells;
    }

    [Fact]
    public void EveryCell_IsFilledDarkerTheLargerItsCount()
    {
        string[] classes = ["ant", "bee", "cat", "dog"];
        var counts = new int[4, 4];
        var distinct = new[] { 37, 3, 12, 7, 21, 44, 5, 16, 9, 30, 51, 14, 25, 18, 11, 60 }; // 16 different counts
        for (var i = 0; i < 16; i++)
            counts[i / 4, i % 4] = distinct[i];

        var probe = new PngProbe(ConfusionMatrixPlot.ToPng(classes, counts));
        probe.AssertIsAPicture(minimumDistinctColors: 16);
        var cells = SampleCells(probe, 4);

        Assert.Equal(16, cells.Cast<SKColor>().Distinct().Count());
        var ranked = Enumerable.Range(0, 16).OrderBy(i => distinct[i]).Select(i => PngProbe.Luminance(cells[i / 4, i % 4])).ToList();
        for (var i = 1; i < ranked.Count; i++)
            Assert.True(ranked[i] < ranked[i - 1], $"A larger count is not darker (rank {i}: {ranked[i]:F1} vs {ranked[i - 1]:F1}).");
        // The largest count, 60 (actual dog, predicted dog), gets the palette's darkest blue; rows are actual, columns predicted.
        Assert.True(PngProbe.Near(cells[3, 3], new SKColor(0x08, 0x30, 0x6b), 6), $"Darkest cell is {cells[3, 3]}.");
        Assert.True(PngProbe.Luminance(cells[0, 1]) > PngProbe.Luminance(cells[1, 0]), "count 3 (ant→bee) must be lighter than 21 (bee→ant)");
    }

    [Fact]
    public void Normalize_ColoursEachRowByItsFractions()
    {
        // Raw counts make the small second row pale; row fractions make its cells mid-blue.
        var counts = new[,] { { 90, 10 }, { 1, 1 } };
        var raw = SampleCells(new PngProbe(ConfusionMatrixPlot.ToPng(["a", "b"], counts)), 2);
        var normalized = SampleCells(new PngProbe(ConfusionMatrixPlot.ToPng(["a", "b"], counts, normalize: true)), 2);

        Assert.True(PngProbe.Luminance(raw[1, 1]) > PngProbe.Luminance(raw[0, 1]), "raw: 1 is lighter than 10");
        Assert.True(PngProbe.Luminance(normalized[1, 1]) < PngProbe.Luminance(normalized[0, 1]), "normalized: 0.5 is darker than 0.1");
        Assert.Equal(normalized[1, 0], normalized[1, 1]);
    }

    [Fact]
    public void CellValues_AreWrittenInTheCells()
    {
        var counts = new[,] { { 50, 3, 0 }, { 7, 40, 2 }, { 1, 0, 33 } };
        string[] classes = ["cat", "dog", "fox"];
        bool IsDarkText(SKColor c) => c.Red < 60 && c.Green < 60 && c.Blue < 60;

        var withValues = new PngProbe(ConfusionMatrixPlot.ToPng(classes, counts, showValues: true));
        var withoutValues = new PngProbe(ConfusionMatrixPlot.ToPng(classes, counts, showValues: false));
        var grid = withValues.Bounds(IsCellFill);
        var inside = SKRectI.Inflate(grid, -4, -4);

        Assert.Equal(grid, withoutValues.Bounds(IsCellFill));
        Assert.Equal(0, withoutValues.Count(IsDarkText, inside));
        if (PlotColors.FontsInstalled)
            Assert.True(withValues.Count(IsDarkText, inside) > 30, "No numbers were written in the light cells.");
    }

    [Fact]
    public void ClassNamesAndAxisTitles_AreWrittenBesideTheCells()
    {
        string[] classes = ["cat", "dog", "fox"];
        var probe = new PngProbe(ConfusionMatrixPlot.ToPng(classes, new[,] { { 5, 1, 0 }, { 2, 6, 1 }, { 0, 0, 7 } }, options: new PlotOptions { Title = "" }));
        var grid = probe.Bounds(IsCellFill);
        var below = new SKRectI(grid.Left, grid.Bottom + 6, grid.Right, probe.Height);
        var left = new SKRectI(0, grid.Top, grid.Left - 6, grid.Bottom);

        if (!PlotColors.FontsInstalled) return;  // CI installs fonts-dejavu-core, so this holds there
        // Below: the predicted class names, then "Predicted"; to the left: "Actual" (turned), then the actual class names.
        Assert.Equal(2, probe.TextBands(below, horizontal: true, minimumGap: 4));
        var columns = probe.TextBandRanges(left, horizontal: false, minimumGap: 4);
        Assert.Equal(2, columns.Count);
        // One name per row, level with its row of cells: three bands of text in the column nearer the cells.
        var names = probe.TextBandRanges(new SKRectI(columns[1].First, grid.Top, columns[1].Last + 1, grid.Bottom), horizontal: true, minimumGap: 4);
        Assert.Equal(3, names.Count);
        var cell = grid.Height / 3.0;
        for (var row = 0; row < 3; row++)
            Assert.InRange((names[row].First + names[row].Last) / 2.0, grid.Top + (row + 0.3) * cell, grid.Top + (row + 0.7) * cell);
    }

    [Fact]
    public void ManyClasses_RenderWithoutNumbersAndStaySquare()
    {
        var n = 40;
        var names = Enumerable.Range(0, n).Select(i => $"class_{i}").ToArray();
        var counts = new int[n, n];
        for (var i = 0; i < n; i++)
            counts[i, i] = 10 + i;

        var probe = new PngProbe(ConfusionMatrixPlot.ToPng(names, counts));

        probe.AssertIsAPicture();
        var grid = probe.Bounds(IsCellFill);
        Assert.InRange(grid.Width, grid.Height - 3, grid.Height + 3);
    }

    [Fact]
    public void MismatchedShapes_AreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.ToPng(["a", "b", "c"], new int[2, 2]));
        Assert.Equal("counts", error.ParamName);
        Assert.Contains("3 class names", error.Message);
        Assert.Equal("counts", Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.ToPng(["a", "b"], new[,] { { 1, -1 }, { 0, 1 } })).ParamName);
        Assert.Equal("classNames", Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.ToPng(["a"], new int[1, 1])).ParamName);
    }
}
