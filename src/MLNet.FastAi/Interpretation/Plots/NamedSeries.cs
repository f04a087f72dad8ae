namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>A named sequence of values, one per iteration or per epoch (a metric, a hyper-parameter).</summary>
/// <param name="Name">Shown as the panel title or legend entry, for example "accuracy" or "lr".</param>
/// <param name="Values">The values in order; non-finite values are left out of the plot.</param>
internal sealed record NamedSeries(string Name, IReadOnlyList<double> Values);
