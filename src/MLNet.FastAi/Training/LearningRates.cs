namespace MLNet.FastAi.Training;

/// <summary>
/// A learning rate for every parameter group: one value for all, or fastai's <c>slice</c>: <c>slice(stop)</c> gives
/// the last group <c>stop</c> and the others <c>stop/10</c>; <c>slice(start, stop)</c> spaces the groups geometrically.
/// </summary>
public readonly record struct LearningRates
{
    private LearningRates(double? start, double stop, bool isSlice)
    {
        Start = start;
        Stop = stop;
        IsSlice = isSlice;
    }

    /// <summary>First group's rate of a two-ended slice, or null.</summary>
    public double? Start { get; }

    /// <summary>The last group's rate (the one value, for a single rate).</summary>
    public double Stop { get; }

    /// <summary>True for a slice, false for one rate for every group.</summary>
    public bool IsSlice { get; }

    /// <summary>The same rate for every group (fastai <c>lr=1e-3</c>).</summary>
    public static LearningRates Single(double lr) => new(null, lr, false);

    /// <summary>fastai <c>slice(stop)</c>: earlier groups get stop/10.</summary>
    public static LearningRates Slice(double stop) => new(null, stop, true);

    /// <summary>fastai <c>slice(start, stop)</c>: geometric spacing from start to stop across groups.</summary>
    public static LearningRates Slice(double start, double stop) => new(start, stop, true);

    /// <summary>One rate per group for <paramref name="groupCount"/> groups.</summary>
    public double[] ForGroups(int groupCount)
    {
        Validate();
        double stop = Stop;
        if (!IsSlice) return Enumerable.Repeat(stop, groupCount).ToArray();
        if (Start is not { } start) return Enumerable.Range(0, groupCount).Select(i => i == groupCount - 1 ? stop : stop / 10).ToArray();
        if (groupCount == 1) return new[] { stop };
        double ratio = Math.Pow(stop / start, 1.0 / (groupCount - 1));
        return Enumerable.Range(0, groupCount).Select(i => start * Math.Pow(ratio, i)).ToArray();
    }

    /// <summary>Checks the rates are positive and finite.</summary>
    /// <param name="parameterName">The argument or option the rates came from, named in the error.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate is zero, negative, infinite or NaN.</exception>
    public void Validate(string parameterName = "lr")
    {
        static bool Bad(double v) => !(v > 0) || double.IsInfinity(v);
        if (Bad(Stop) || Start is { } s && Bad(s))
            throw new ArgumentOutOfRangeException(parameterName, ToString(), $"{parameterName}: learning rates must be positive and finite; got {this}.");
    }

    /// <summary>A single rate converts implicitly, so <c>Fit(5, 1e-3)</c> reads as in fastai.</summary>
    public static implicit operator LearningRates(double lr) => Single(lr);

    /// <inheritdoc/>
    public override string ToString() => !IsSlice ? $"{Stop:g3}" : Start is null ? $"slice({Stop:g3})" : $"slice({Start:g3}, {Stop:g3})";
}
