using MLNet.FastAi.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// <c>mlContext.CancelExecution()</c>: ML.NET 5 implements it internally (AutoML calls it) but does not expose it on
/// <see cref="MLContext"/>. This extension calls ML.NET's own mechanism, so it stops every component of the context
/// that checks it: ML.NET's trainers and <c>FastAiCnn</c>, which stops within one batch.
/// </summary>
internal static class MLContextCancellation
{
    /// <summary>
    /// Cancels the work running on <paramref name="context"/>: a fit in progress throws
    /// <see cref="OperationCanceledException"/>. As in ML.NET, the cancellation is permanent: the context's estimators
    /// refuse further fits, so continue with a new <see cref="MLContext"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">This ML.NET version offers no cancellation.</exception>
    public static void CancelExecution(this MLContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        EnvironmentInternals.Cancel(FastAiCatalog.EnvironmentOf(context.MulticlassClassification.Trainers)
            ?? throw new NotSupportedException("This ML.NET version's MLContext does not expose its environment; it cannot be cancelled from outside ML.NET."));
    }
}
