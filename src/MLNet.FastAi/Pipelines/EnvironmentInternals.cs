using System.Reflection;
using Microsoft.ML.Runtime;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// What ML.NET (5.0 and 6.0) keeps internal about an environment (an MLContext's, or a host registered on it) but a trainer needs:
/// its cancellation flag (<c>ICancelable</c>, which AutoML and ML.NET's trainers use) and its seed
/// (<c>IHostEnvironmentInternal.Seed</c>). Read by reflection, as <see cref="Microsoft.ML.FastAiCatalog"/> reads the
/// catalog's environment; absent members read as "not cancelled" and "unknown".
/// </summary>
internal static class EnvironmentInternals
{
    /// <summary>True when <paramref name="environment"/> was cancelled.</summary>
    public static bool IsCanceled(IHostEnvironment environment) =>
        Interface(environment.GetType(), "ICancelable")?.GetProperty("IsCanceled") is { } flag && flag.GetValue(environment) is true;

    /// <summary>Cancels every ML.NET component working for <paramref name="environment"/>.</summary>
    /// <exception cref="NotSupportedException">This ML.NET version has no cancellation to call.</exception>
    public static void Cancel(IHostEnvironment environment)
    {
        var cancel = Interface(environment.GetType(), "ICancelable")?.GetMethod("CancelExecution", Type.EmptyTypes)
            ?? throw new NotSupportedException($"This ML.NET version's {environment.GetType().Name} has no CancelExecution to call.");
        cancel.Invoke(environment, null);
    }

    /// <summary>The seed the MLContext was made with; null when it has none (or this ML.NET does not say).</summary>
    public static int? SeedOf(IHostEnvironment environment) =>
        Interface(environment.GetType(), "IHostEnvironmentInternal")?.GetProperty("Seed") is { } seed ? seed.GetValue(environment) as int? : null;

    private static Type? Interface(Type type, string name) =>
        type.GetInterfaces().FirstOrDefault(i => i.Name == name && i.Namespace == "Microsoft.ML.Runtime");
}
