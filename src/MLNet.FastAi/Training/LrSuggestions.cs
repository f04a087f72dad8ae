namespace MLNet.FastAi.Training;

/// <summary>A suggested learning rate and the point of the curve it came from.</summary>
/// <param name="Name">Method name: valley, minimum, steep or slide.</param>
/// <param name="LearningRate">The suggested learning rate.</param>
/// <param name="PointLearningRate">Where on the curve the suggestion was read (minimum reports the minimum, suggesting a tenth of it).</param>
/// <param name="PointLoss">The loss at that point (for marking the plot).</param>
public sealed record LrSuggestion(string Name, double LearningRate, double PointLearningRate, double PointLoss);

/// <summary>fastai's learning-rate suggestion methods for <see cref="LrFinder.LrFind"/> curves.</summary>
public static class LrSuggestions
{
    /// <summary>Method names in fastai's order.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "valley", "minimum", "steep", "slide" };

    /// <summary>Applies the named method (valley, minimum, steep, slide).</summary>
    public static LrSuggestion Suggest(string name, IReadOnlyList<double> lrs, IReadOnlyList<double> losses) => name switch
    {
        "valley" => Valley(lrs, losses),
        "minimum" => Minimum(lrs, losses),
        "steep" => Steep(lrs, losses),
        "slide" => Slide(lrs, losses),
        _ => throw new ArgumentException($"Unknown suggestion method '{name}'. Known: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>
    /// fastai's default: the longest decreasing subsequence of the losses, read at <c>start + ⌊len/3⌋ + ⌊len/6⌋</c>,
    /// i.e. about half-way down the valley.
    /// </summary>
    public static LrSuggestion Valley(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        Check(lrs, losses);
        int n = losses.Count, maxStart = 0, maxEnd = 0;
        var lengths = Enumerable.Repeat(1, n).ToArray();
        for (int i = 1; i < n; i++)
            for (int j = 0; j < i; j++)
            {
                if (losses[i] < losses[j] && lengths[i] < lengths[j] + 1) lengths[i] = lengths[j] + 1;
                if (lengths[maxEnd] < lengths[i])
                {
                    maxEnd = i;
                    maxStart = maxEnd - lengths[maxEnd];
                }
            }
        double sections = (maxEnd - maxStart) / 3.0;
        int index = Math.Clamp(maxStart + (int)sections + (int)(sections / 2), 0, n - 1);
        return new LrSuggestion("valley", lrs[index], lrs[index], losses[index]);
    }

    /// <summary>A tenth of the learning rate at the lowest loss.</summary>
    public static LrSuggestion Minimum(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        Check(lrs, losses);
        int index = ArgMin(losses);
        return new LrSuggestion("minimum", lrs[index] / 10, lrs[index], losses[index]);
    }

    /// <summary>The learning rate where the loss falls fastest against log(lr).</summary>
    public static LrSuggestion Steep(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        Check(lrs, losses);
        int best = 0;
        double steepest = double.PositiveInfinity;
        for (int i = 0; i + 1 < losses.Count; i++)
        {
            double slope = (losses[i + 1] - losses[i]) / (Math.Log(lrs[i + 1]) - Math.Log(lrs[i]));
            if (slope < steepest) { steepest = slope; best = i; }
        }
        return new LrSuggestion("steep", lrs[best], lrs[best], losses[best]);
    }

    /// <summary>
    /// fastai's slide: walk left from the end until the loss gradients 15 points apart differ by at most
    /// <paramref name="threshold"/>.
    /// </summary>
    public static LrSuggestion Slide(IReadOnlyList<double> lrs, IReadOnlyList<double> losses, int lrDiff = 15, double threshold = 0.005, double adjust = 1.0)
    {
        Check(lrs, losses);
        int n = losses.Count;
        var gradient = new double[n];
        for (int i = 0; i < n; i++)
            gradient[i] = n == 1 ? 0 : i == 0 ? losses[1] - losses[0] : i == n - 1 ? losses[n - 1] - losses[n - 2] : (losses[i + 1] - losses[i - 1]) / 2;
        int right = n - 1, left = right - lrDiff;
        double local = lrs[Math.Max(0, left)];
        while (left >= 0 && Math.Abs(gradient[right] - gradient[left]) > threshold)
        {
            local = lrs[left];
            right--;
            left--;
        }
        double suggestion = local * adjust;
        return new LrSuggestion("slide", suggestion, suggestion, Interpolate(Math.Log10(suggestion), lrs.Select(Math.Log10).ToList(), losses));
    }

    private static double Interpolate(double x, IReadOnlyList<double> xs, IReadOnlyList<double> ys)
    {
        if (x <= xs[0]) return ys[0];
        for (int i = 1; i < xs.Count; i++)
            if (x <= xs[i]) return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
        return ys[^1];
    }

    private static int ArgMin(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++) if (values[i] < values[best]) best = i;
        return best;
    }

    private static void Check(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        if (lrs.Count != losses.Count) throw new ArgumentException("One loss per learning rate is needed.");
        if (lrs.Count < 2) throw new ArgumentException("The learning-rate curve is too short to suggest a rate; run more iterations.");
    }
}
