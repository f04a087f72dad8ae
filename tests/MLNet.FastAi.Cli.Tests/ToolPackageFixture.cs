using System.Diagnostics;
using MLNet.FastAi.Tests.Packaging;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>
/// Packs the tool once per test run, exactly as a release would (`dotnet pack` of the CLI project), into a local
/// folder feed: the pointer package MLNet.FastAi.Cli and one MLNet.FastAi.Cli.&lt;rid&gt; package per platform.
/// The build goes to its own artifacts folder, so it neither reads nor overwrites the repository's bin/ and obj/
/// while other test assemblies build or pack in parallel, and that folder (5 GB of platform files, linked rather than
/// copied where the file system allows) is deleted as soon as the packages exist.
/// </summary>
public sealed class ToolPackageFixture : IDisposable
{
    public const string PackageId = "MLNet.FastAi.Cli";

    /// <summary>The platforms libtorch-cpu 2.10 ships, one tool package each.</summary>
    public static readonly string[] RuntimeIdentifiers = ["linux-x64", "win-x64", "osx-arm64"];

    /// <summary>A version no earlier run used, so no NuGet cache can hand back a package packed before.</summary>
    public static readonly string Version = $"0.1.0-tooltest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    private readonly TemporaryFolder _root = new("mlnet-fastai-toolpack-");

    public ToolPackageFixture()
    {
        Feed = Directory.CreateDirectory(_root["feed"]).FullName;
        // Beside the test assembly rather than in the temporary folder: the build links its copies of libtorch to the
        // NuGet cache where both share a file system, which the repository's folder is likelier to than /tmp.
        string artifacts = Path.Combine(AppContext.BaseDirectory, "toolpack-" + Path.GetFileName(_root.Path));
        string project = Path.Combine(TestData.RepositoryRoot, "src", "MLNet.FastAi.Cli", "MLNet.FastAi.Cli.csproj");
        var clock = Stopwatch.StartNew();
        try
        {
            var (code, output) = ProcessRunner.Run("dotnet",
                $"pack \"{project}\" -c Release --artifacts-path \"{artifacts}\" -o \"{Feed}\" -p:Version={Version} {ProcessRunner.HardLinkSwitches}",
                TestData.RepositoryRoot, timeoutSeconds: 600);
            if (code != 0) throw new InvalidOperationException("dotnet pack of the tool failed:\n" + output);
        }
        catch
        {
            _root.Dispose();
            throw;
        }
        finally
        {
            PackSeconds = clock.Elapsed.TotalSeconds;
            if (Directory.Exists(artifacts)) Directory.Delete(artifacts, recursive: true);
        }
    }

    /// <summary>The local folder source holding the packed packages.</summary>
    public string Feed { get; }

    public string Root => _root.Path;

    public double PackSeconds { get; }

    /// <summary>The pointer package (no RID) or the package of one RID.</summary>
    public string Package(string? runtimeIdentifier = null) =>
        Path.Combine(Feed, $"{PackageId}{(runtimeIdentifier is null ? "" : "." + runtimeIdentifier)}.{Version}.nupkg");

    public void Dispose() => _root.Dispose();
}
