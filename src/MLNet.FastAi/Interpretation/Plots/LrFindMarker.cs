namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>A learning rate suggested by the learning-rate finder, marked on its plot.</summary>
/// <param name="Name">The suggestion method, for example "valley", "minimum", "steep" or "slide".</param>
/// <param name="LearningRate">The suggested learning rate.</param>
/// <param name="Loss">
/// The loss at that learning rate, where the marker sits; <see langword="null"/> reads it off the curve.
/// </param>
internal sealed record LrFindMarker(string Name, double LearningRate, double? Loss = null)
{
    /// <summary>The legend text, fastai style: <c>valley: 1.32e-03</c>.</summary>
    public string Label => $"{Name}: {LearningRate.ToString("0.00e+00", System.Globalization.CultureInfo.InvariantCulture)}";
}
