namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// The test assembly's entry point (the test SDK's generated empty one is turned off in the project). Test runners
/// never call it: they load the assembly into their own host. The cross-process tests start
/// <c>dotnet MLNet.FastAi.Tests.dll hardening-child ...</c> to train in a fresh process, which they may kill.
/// </summary>
internal static class TestAssemblyEntryPoint
{
    public static int Main(string[] args) => args is ["hardening-child", .. var rest] ? TrainingChild.Run(rest) : 0;
}
