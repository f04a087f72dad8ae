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

    /// <summary>Non-finite values (a diverged loss, a metric not computed) are left out instead of wrecking the axis range.</summary>
    public static (double[] Xs, double[] Ys) FinitePoints(IReadOnlyList<double> xs, IReadOnlyList<double> ys, int start = 0, int end = -1)
    {
        if (end < 0)
            end = ys.Count;
        var keptX = new List<double>(Math.Max(0, end - start));
        var keptY = new List<double>(keptX.Capacity);
        for (var i = start; i < end; i++)
        {
            if (double.IsFinite(xs[i]) && double.IsFinite(ys[i]))
            {
                keptX.Add(xs[i]);
                keptY.Add(ys[i]);
            }
        }
        return (keptX.ToArray(), keptY.ToArray());
    }

    /// <summary>The values against their index, from <paramref name="start"/>, non-finite ones left out.</summary>
    public static (double[] Xs, double[] Ys) IndexedPoints(IReadOnlyList<double> ys, int start = 0) =>
        FinitePoints(Enumerable.Range(0, ys.Count).Select(i => (double)i).ToArray(), ys, start);
}
