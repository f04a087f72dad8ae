namespace MLNet.FastAi.Training;

/// <summary>
/// Range checks for the training methods' arguments. Each names the argument; all run before a method changes
/// anything, so a refused call leaves the learner exactly as it was. NaN fails every check: comparisons with NaN are
/// false, so a bare <c>x &lt; 0</c> test would let it through into the schedules.
/// </summary>
internal static class ArgumentChecks
{
    public static void Epochs(int epochs, string name, int minimum = 1)
    {
        if (epochs < minimum) throw new ArgumentOutOfRangeException(name, epochs, $"{name} must be at least {minimum}.");
    }

    public static void PositiveFinite(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and finite.");
    }

    public static void NonNegativeFinite(double? value, string name)
    {
        if (value is { } v && (!(v >= 0) || double.IsInfinity(v))) throw new ArgumentOutOfRangeException(name, value, $"{name} must be zero or positive, and finite.");
    }

    public static void Fraction(double value, string name)
    {
        if (!(value >= 0 && value <= 1)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1].");
    }

    public static void Rates(LearningRates? rates, string name) => rates?.Validate(name);

    /// <summary>[0, 1): dropout, label smoothing, momentums.</summary>
    public static void HalfOpenFraction(double value, string name)
    {
        if (!(value >= 0 && value < 1)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1).");
    }

    public static void Momentums((double Start, double Middle, double End)? momentums, string name)
    {
        if (momentums is not { } m) return;
        foreach (var value in new[] { m.Start, m.Middle, m.End })
            if (!(value >= 0 && value < 1)) throw new ArgumentOutOfRangeException(name, m, $"{name} must each be in [0, 1); got {m}.");
    }
}
