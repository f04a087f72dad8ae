namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// The test assembly's entry point (the test SDK's generated empty one is turned off in the project). Test runners
/// never call it: they load the assembly into their own host. The cross-process tests start
/// <c>dotnet MLNet.FastAi.Tests.dll hardening-child ...</c> to train in a fresh process, which they may kill; the memory
/// retention tests count page faults and resident memory on a fresh process's main thread (<c>page-faults-child</c>,
/// <c>retained-memory-child</c>) and a training step's peak (<c>training-peak-child</c>); the NNPACK test reads a fresh process's console (<c>nnpack-child</c>);
/// <c>write-format-fixtures &lt;folder&gt;</c> rewrites the format fixtures (see <see cref="Formats.FormatFixtures"/>).
/// </summary>
internal static class TestAssemblyEntryPoint
{
    public static int Main(string[] args) => args switch
    {
        ["hardening-child", .. var rest] => TrainingChild.Run(rest),
        ["page-faults-child"] => Runtime.PageFaultChild.Run(),
        ["retained-memory-child"] => Runtime.RetainedMemoryChild.Run(),
        ["jemalloc-retention-child", var root] => Runtime.JemallocRetentionChild.Run(root),
        ["training-peak-child", var root] => Runtime.TrainingPeakChild.Run(root),
        ["training-peak-child", var root, var size, var batch] => Runtime.TrainingPeakChild.Run(root, int.Parse(size), int.Parse(batch)),
        ["nnpack-child", .. var rest] => Runtime.NnpackChild.Run(keepNnpack: rest is ["keep-nnpack"]),
        ["write-format-fixtures", var folder] => Formats.FormatFixtures.Write(folder),
        _ => 0,
    };
}
