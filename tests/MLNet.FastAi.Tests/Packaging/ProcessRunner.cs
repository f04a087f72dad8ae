using System.Diagnostics;
using System.Text;

namespace MLNet.FastAi.Tests.Packaging;

/// <summary>Runs a child process (dotnet) with a clean MSBuild environment and captures its output.</summary>
internal static class ProcessRunner
{
    public static (int ExitCode, string Output) Run(string fileName, string arguments, string workingDirectory,
        IReadOnlyDictionary<string, string?>? environment = null, int timeoutSeconds = 900)
    {
        var info = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // `dotnet test` sets MSBuild variables for its own build; a nested build must not inherit them.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal) || k == "DOTNET_HOST_PATH" || k.StartsWith("VSTEST", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) info.Environment[key] = value;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{fileName} {arguments}' did not finish in {timeoutSeconds} s. Output so far:\n{output}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }

    /// <summary>The repository root (the folder holding MLNet.FastAi.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MLNet.FastAi.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("MLNet.FastAi.sln not found above the test folder.");
        }
    }

    /// <summary>
    /// MSBuild properties that make builds link the files they copy (libtorch alone is over a gigabyte per platform)
    /// instead of copying them, where the file system allows; elsewhere MSBuild copies as usual.
    /// </summary>
    public static readonly IReadOnlyList<string> HardLinkProperties =
    [
        "CreateHardLinksForCopyLocalIfPossible", "CreateHardLinksForCopyFilesToOutputDirectoryIfPossible",
        "CreateHardLinksForAdditionalFilesIfPossible", "CreateHardLinksForPublishFilesIfPossible",
    ];

    /// <summary><see cref="HardLinkProperties"/> as command-line switches.</summary>
    public static string HardLinkSwitches => string.Join(" ", HardLinkProperties.Select(p => $"-p:{p}=true"));

    /// <summary>NuGet's global packages folder.</summary>
    public static string NuGetPackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
