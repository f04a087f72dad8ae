using Microsoft.ML;
using MLNet.FastAi.Pipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// The places the package reads what ML.NET keeps internal (its environment's seed and cancellation, a catalog's
/// environment; <c>SchemaShape.Create</c> is pinned by FastAiCnnEstimatorSchemaTests). Each falls back quietly at run time (no seed, not cancelled, a fresh
/// context), so a new ML.NET that moved one of them would only show as a subtly different behaviour: these tests
/// name the member that is no longer found instead.
/// </summary>
public class MLNetInternalsTests
{
    private static readonly string Version = typeof(MLContext).Assembly.GetName().Version!.ToString();

    [Fact]
    public void TheSeed_IsReadFromIHostEnvironmentInternal()
    {
        Assert.True(EnvironmentInternals.SeedOf(new MLContext(seed: 7)) == 7,
            $"ML.NET {Version}: IHostEnvironmentInternal.Seed no longer gives an MLContext's seed; FastAiCnn would train unseeded.");
        Assert.Null(EnvironmentInternals.SeedOf(new MLContext()));
    }

    [Fact]
    public void Cancellation_IsReadAndSetThroughICancelable()
    {
        // The flag lives on the environment behind the context's catalogs (MLContext itself has no ICancelable in 6.0).
        var environment = FastAiCatalog.EnvironmentOf(new MLContext(seed: 1).MulticlassClassification.Trainers)!;
        Assert.False(EnvironmentInternals.IsCanceled(environment));
        EnvironmentInternals.Cancel(environment);
        Assert.True(EnvironmentInternals.IsCanceled(environment),
            $"ML.NET {Version}: ICancelable.IsCanceled no longer reports CancelExecution; a cancelled context would keep training.");
    }

    [Fact]
    public void ACatalogsEnvironment_IsTheContextItCameFrom()
    {
        var context = new MLContext(seed: 3);
        var environment = FastAiCatalog.EnvironmentOf(context.MulticlassClassification.Trainers);
        Assert.True(environment is not null,
            $"ML.NET {Version}: the trainers catalog no longer exposes its Environment; FastAiCnn would ignore the context's GPU, seed and log.");
        Assert.Equal(3, EnvironmentInternals.SeedOf(environment!));
    }
}
