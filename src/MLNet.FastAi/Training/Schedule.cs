namespace MLNet.FastAi.Training;

/// <summary>
/// A hyper-parameter value as a function of training progress <c>pct</c> in [0, 1] (fastai's schedulers in
/// <c>callback/schedule.py</c>).
/// </summary>
public delegate double Schedule(double pct);

/// <summary>fastai's schedule building blocks.</summary>
public static class Schedules
{
    /// <summary>Constant value.</summary>
    public static Schedule Constant(double value) => _ => value;

    /// <summary>Linear from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public static Schedule Linear(double start, double end) => pct => start + pct * (end - start);

    /// <summary>Half a cosine from <paramref name="start"/> to <paramref name="end"/> (fastai <c>SchedCos</c>).</summary>
    public static Schedule Cosine(double start, double end) => pct => start + (1 + Math.Cos(Math.PI * (1 - pct))) * (end - start) / 2;

    /// <summary>Exponential from <paramref name="start"/> to <paramref name="end"/> (fastai <c>SchedExp</c>).</summary>
    public static Schedule Exponential(double start, double end) => pct => start * Math.Pow(end / start, pct);

    /// <summary>
    /// Consecutive schedules, each over a fraction of training (fastai <c>combine_scheds</c>); fractions must sum to 1.
    /// </summary>
    public static Schedule Combine(IReadOnlyList<double> fractions, IReadOnlyList<Schedule> schedules)
    {
        if (fractions.Count != schedules.Count || fractions.Count == 0)
            throw new ArgumentException("Give one fraction per schedule.");
        if (Math.Abs(fractions.Sum() - 1) > 1e-6 || fractions.Any(f => f < 0))
            throw new ArgumentException($"Schedule fractions must be non-negative and sum to 1; got [{string.Join(", ", fractions)}].");
        var bounds = new double[fractions.Count + 1];
        for (int i = 0; i < fractions.Count; i++) bounds[i + 1] = bounds[i] + fractions[i];
        return pct =>
        {
            int index = 0;
            for (int i = 0; i < fractions.Count; i++) if (pct >= bounds[i]) index = i;
            // A zero-length phase never runs; step past it rather than divide by zero.
            while (index < fractions.Count - 1 && bounds[index + 1] - bounds[index] <= 0) index++;
            double width = bounds[index + 1] - bounds[index];
            double local = width <= 0 ? 1 : Math.Clamp((pct - bounds[index]) / width, 0, 1);
            return schedules[index](local);
        };
    }

    /// <summary>Cosine from <paramref name="start"/> to <paramref name="middle"/> over <paramref name="pctStart"/>, then to <paramref name="end"/> (fastai <c>combined_cos</c>).</summary>
    public static Schedule CombinedCosine(double pctStart, double start, double middle, double end) =>
        Combine(new[] { pctStart, 1 - pctStart }, new[] { Cosine(start, middle), Cosine(middle, end) });
}
