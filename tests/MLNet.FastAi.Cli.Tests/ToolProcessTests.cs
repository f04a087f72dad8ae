using System.Diagnostics;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>The built tool, run as its own process the way `dotnet tool` runs it: it starts, and its exit codes reach the shell.</summary>
public sealed class ToolProcessTests
{
    [Fact]
    public void TheBuiltTool_PrintsHelp_AndReturnsItsExitCodesToTheShell()
    {
        string tool = ToolAssembly();

        var (helpCode, helpOut) = RunDotnet(tool, "--help");
        var (missingCode, missingOut) = RunDotnet(tool, "export-onnx", "/no/such/model.zip");

        Assert.True(helpCode == 0, helpOut);
        Assert.Contains("mlnet-fastai [command] [options]", helpOut);
        Assert.Contains("export-onnx", helpOut);
        Assert.True(missingCode == 2, missingOut);
        Assert.Contains("/no/such/model.zip", missingOut);
    }

    /// <summary>mlnet-fastai.dll with its runtimeconfig: the CLI project's own output, of the configuration these tests were built in.</summary>
    private static string ToolAssembly()
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var candidates = new[]
        {
            Path.Combine(TestData.RepositoryRoot, "src", "MLNet.FastAi.Cli", "bin", configuration, "net10.0", "mlnet-fastai.dll"),
            Path.Combine(AppContext.BaseDirectory, "mlnet-fastai.dll"),
        };
        return candidates.FirstOrDefault(c => File.Exists(Path.ChangeExtension(c, ".runtimeconfig.json")))
            ?? throw new InvalidOperationException($"mlnet-fastai.dll with its runtimeconfig.json is in none of: {string.Join(", ", candidates)}");
    }

    private static readonly TimeSpan ChildTimeout = TimeSpan.FromMinutes(3);

    private static (int ExitCode, string Output) RunDotnet(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        // A hung child must fail the test, not hang the run: these commands take seconds.
        if (!process.WaitForExit(ChildTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'dotnet {string.Join(' ', args)}' did not finish within {ChildTimeout.TotalSeconds} s; it was killed.");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
