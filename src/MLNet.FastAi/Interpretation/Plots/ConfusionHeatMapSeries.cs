using OxyPlot;
using OxyPlot.Series;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// A heat map whose cell text turns white above half the maximum, matplotlib's rule in fastai's confusion matrix,
/// instead of OxyPlot's brightness rule that puts black text on mid-blue cells.
/// </summary>
internal sealed class ConfusionHeatMapSeries(double maximum) : HeatMapSeries
{
    protected override void RenderLabels(IRenderContext rc, OxyRect rect)
    {
        var columns = Data.GetLength(0);
        var rows = Data.GetLength(1);
        var dx = (X1 - X0) / (columns - 1);
        var dy = (Y1 - Y0) / (rows - 1);
        var fontSize = Math.Min(16, rect.Height / rows * LabelFontSize);
        for (var i = 0; i < columns; i++)
        {
            for (var j = 0; j < rows; j++)
            {
                var value = Data[i, j];
                var color = value > maximum / 2 ? OxyColors.White : OxyColors.Black;
                var point = Transform(new DataPoint(X0 + i * dx, Y0 + j * dy));
                rc.DrawText(point, GetLabel(value, i, j), color, ActualFont, fontSize, 500, 0,
                    HorizontalAlignment.Center, VerticalAlignment.Middle);
            }
        }
    }
}
