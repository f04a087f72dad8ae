namespace MLNet.FastAi.Tests.Packaging;

/// <summary>
/// Packs MLNet.FastAi into a local feed once, and writes two consumer apps outside the repository (so none of its
/// build files apply): one with the TorchSharp-cpu backend, one with no backend (bring-your-own libtorch).
/// </summary>
public sealed class PackedPackageFixture : IDisposable
{
    /// <summary>A version unique to this run, so NuGet's cache never serves a package packed by an earlier run.</summary>
    public static readonly string Version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    public PackedPackageFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-packaging-" + Guid.NewGuid().ToString("N")[..8]);
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        var (code, output) = ProcessRunner.Run("dotnet",
            $"pack \"{Path.Combine(ProcessRunner.RepositoryRoot, "src", "MLNet.FastAi", "MLNet.FastAi.csproj")}\" -c Release -o \"{Feed}\" -p:Version={Version}",
            ProcessRunner.RepositoryRoot);
        PackOutput = output;
        if (code != 0) throw new InvalidOperationException("dotnet pack failed:\n" + output);
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mlnet-fastai-local" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        // Stop the repository's build files from leaking in: these apps sit in their own folder tree.
        File.WriteAllText(Path.Combine(Root, "Directory.Build.props"),
            $"<Project><PropertyGroup>{string.Concat(ProcessRunner.HardLinkProperties.Select(p => $"<{p}>true</{p}>"))}</PropertyGroup></Project>");
        File.WriteAllText(Path.Combine(Root, "Directory.Build.targets"), "<Project />");
        File.WriteAllText(Path.Combine(Root, "Directory.Packages.props"), "<Project><PropertyGroup><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup></Project>");
    }

    public string Root { get; }

    public string Feed { get; }

    public string PackOutput { get; }

    /// <summary>Writes a console app referencing the packed package; returns its folder.</summary>
    public string WriteApp(string name, string program, bool cpuBackend)
    {
        string folder = Path.Combine(Root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="MLNet.FastAi" Version="{Version}" />
                {(cpuBackend ? "<PackageReference Include=\"TorchSharp-cpu\" Version=\"0.107.0\" />" : "")}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), program);
        return folder;
    }

    public void Dispose()
    {
        foreach (var folder in new[] { Root, Path.Combine(ProcessRunner.NuGetPackages, "mlnet.fastai", Version.ToLowerInvariant()) })
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
