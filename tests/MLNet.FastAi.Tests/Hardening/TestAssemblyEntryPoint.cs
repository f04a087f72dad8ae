namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// The test assembly's entry point (the test SDK's generated empty one is turned off in the project). Test runners
/// never call it: they load the assembly into their own host. The cross-process tests start
/// <c>dotnet MLNet.FastAi.Tests.dll hardening-child ...</c> to train in a fresh process, which they may kill; the memory
/// retention tests count page faults on a fresh process's main thread (<c>page-faults-child</c>).
/// </summary>
internal static class TestAssemblyEntryPoint
{
    public static int Main(string[] args) => args switch
    {
        ["hardening-child", .. var rest] => TrainingChild.Run(rest),
        ["page-faults-child"] => Runtime.PageFaultChild.Run(),
        _ => 0,
    };
}
