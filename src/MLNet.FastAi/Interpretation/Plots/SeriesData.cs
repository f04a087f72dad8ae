using OxyPlot;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>Argument checks and point building shared by the plots.</summary>
internal static class SeriesData
{
    public static void RequireValues<T>(IReadOnlyList<T>? values, string parameterName, string what)
    {
        if (values is null)
            throw new ArgumentNullException(parameterName, $"{what} are missing.");
        if (values.Count == 0)
            throw new ArgumentException($"{what} are empty: there is nothing to plot.", parameterName);
    }

    /// <summary>Non-finite values (a diverged loss, a metric not computed) leave gaps instead of wrecking the axis range.</summary>
    public static List<DataPoint> FinitePoints(IReadOnlyList<double> xs, IReadOnlyList<double> ys, int start = 0, int end = -1)
    {
        if (end < 0)
            end = ys.Count;
        var points = new List<DataPoint>(Math.Max(0, end - start));
        for (var i = start; i < end; i++)
        {
            if (double.IsFinite(xs[i]) && double.IsFinite(ys[i]))
                points.Add(new DataPoint(xs[i], ys[i]));
        }
        return points;
    }

    public static List<DataPoint> IndexedPoints(IReadOnlyList<double> ys, int start = 0)
    {
        var points = new List<DataPoint>(Math.Max(0, ys.Count - start));
        for (var i = start; i < ys.Count; i++)
        {
            if (double.IsFinite(ys[i]))
                points.Add(new DataPoint(i, ys[i]));
        }
        return points;
    }
}
