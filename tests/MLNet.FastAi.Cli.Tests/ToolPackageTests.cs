using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MLNet.FastAi.Tests.Packaging;
using Xunit.Abstractions;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>
/// The tool as users get it: RID-specific .NET tool packages, each small enough for nuget.org, installed with
/// `dotnet tool install` from a folder source and run from the install folder.
/// </summary>
[Trait("Category", "Packaging")]
[Trait("Category", "Slow")]
public sealed class ToolPackageTests : IClassFixture<ToolPackageFixture>
{
    /// <summary>nuget.org refuses packages larger than this.</summary>
    private const long NuGetOrgLimitBytes = 250L * 1000 * 1000;

    private readonly ToolPackageFixture _packages;
    private readonly ITestOutputHelper _log;

    public ToolPackageTests(ToolPackageFixture packages, ITestOutputHelper log)
    {
        _packages = packages;
        _log = log;
    }

    [Fact]
    public void Pack_WritesAPointerPackage_AndOnePackagePerRid_EachUnderTheLimit_WithOnlyItsOwnNatives()
    {
        _log.WriteLine($"dotnet pack took {_packages.PackSeconds:0} s");
        var expected = ToolPackageFixture.RuntimeIdentifiers.Select(r => _packages.Package(r)).Append(_packages.Package()).Select(Path.GetFileName);
        Assert.Equal(expected.Order(), Directory.GetFiles(_packages.Feed).Select(Path.GetFileName).Order());

        using (var pointer = ZipFile.OpenRead(_packages.Package()))
        {
            _log.WriteLine($"{Path.GetFileName(_packages.Package())}: {new FileInfo(_packages.Package()).Length:N0} bytes");
            // The pointer carries no implementation: only the settings file naming the RID packages.
            Assert.Equal(["tools/any/any/DotnetToolSettings.xml"], pointer.Entries.Select(e => e.FullName).Where(n => n.StartsWith("tools/", StringComparison.Ordinal)));
            var settings = XDocument.Load(pointer.GetEntry("tools/any/any/DotnetToolSettings.xml")!.Open());
            var listed = settings.Descendants("RuntimeIdentifierPackage").ToDictionary(e => (string)e.Attribute("RuntimeIdentifier")!, e => (string)e.Attribute("Id")!);
            Assert.Equal(ToolPackageFixture.RuntimeIdentifiers.Order(), listed.Keys.Order());
            Assert.All(listed, p => Assert.Equal($"{ToolPackageFixture.PackageId}.{p.Key}", p.Value));
            Assert.Equal("DotnetTool", PackageType(pointer));
        }

        foreach (string rid in ToolPackageFixture.RuntimeIdentifiers)
        {
            string path = _packages.Package(rid);
            long size = new FileInfo(path).Length;
            _log.WriteLine($"{Path.GetFileName(path)}: {size:N0} bytes");
            Assert.True(size < NuGetOrgLimitBytes, $"{Path.GetFileName(path)} is {size:N0} bytes, over nuget.org's {NuGetOrgLimitBytes:N0}");

            using var package = ZipFile.OpenRead(path);
            Assert.Equal("DotnetToolRidPackage", PackageType(package));
            var natives = package.Entries
                .Select(e => (e.FullName, Platform: NativePlatform(e)))
                .Where(e => e.Platform is not null)
                .ToList();
            var foreign = natives.Where(n => n.Platform != rid).Select(n => $"{n.FullName} ({n.Platform})").ToList();
            Assert.True(foreign.Count == 0, $"{rid} package carries natives of other platforms: {string.Join(", ", foreign)}");

            var names = natives.Select(n => Path.GetFileName(n.FullName)).ToHashSet();
            foreach (string library in NativesEveryPackageNeeds(rid))
                Assert.True(names.Contains(library), $"{rid} package lacks {library}; its natives: {string.Join(", ", names.Order())}");
            Assert.Contains($"tools/net10.0/{rid}/mlnet-fastai.dll", package.Entries.Select(e => e.FullName));
        }
    }

    [Fact]
    public void ToolInstall_FromAFolderSource_PicksThisMachinesPackage_ThatTrainsAndEvaluates()
    {
        string rid = RuntimeInformation.RuntimeIdentifier;
        Assert.True(ToolPackageFixture.RuntimeIdentifiers.Contains(rid), $"no tool package is made for this machine ({rid})");
        string tools = Path.Combine(_packages.Root, "tools");
        var clock = Stopwatch.StartNew();

        // The README's install line, plus the version: `dotnet tool install` takes no prerelease unless named.
        var (installCode, installOutput) = ProcessRunner.Run("dotnet",
            $"tool install --tool-path \"{tools}\" --add-source \"{_packages.Feed}\" {ToolPackageFixture.PackageId} --version {ToolPackageFixture.Version}",
            _packages.Root, timeoutSeconds: 300);
        Assert.True(installCode == 0, "dotnet tool install failed:\n" + installOutput);
        _log.WriteLine($"dotnet tool install took {clock.Elapsed.TotalSeconds:0} s");

        string store = Path.Combine(tools, ".store", ToolPackageFixture.PackageId.ToLowerInvariant(), ToolPackageFixture.Version);
        var installed = Directory.GetDirectories(store).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(new[] { ToolPackageFixture.PackageId.ToLowerInvariant(), $"{ToolPackageFixture.PackageId}.{rid}".ToLowerInvariant() }.Order(), installed);

        string data = TestData.MnistSlice(Path.Combine(_packages.Root, "mnist"), [3, 7], trainPerDigit: 20, testPerDigit: 10);
        string zip = Path.Combine(_packages.Root, "out", "model.zip");
        string tool = Path.Combine(tools, "mlnet-fastai");
        var env = new Dictionary<string, string?> { ["MLNET_FASTAI_NATIVE_CACHE"] = Path.Combine(_packages.Root, "native-cache") };

        clock.Restart();
        var (trainCode, trainOutput) = ProcessRunner.Run(tool,
            $"train \"{data}\" --train training --valid testing --schedule one-cycle --epochs 1 --batch-size 16 --seed 1 --out \"{zip}\"",
            _packages.Root, env, timeoutSeconds: 300);
        _log.WriteLine($"train from the installed tool took {clock.Elapsed.TotalSeconds:0} s");
        Assert.True(trainCode == 0, "train from the installed tool failed:\n" + trainOutput);
        // Where jemalloc is installed (CI installs it), train runs again under it, and says so.
        if (File.Exists("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2") && rid == "linux-x64")
            Assert.Contains("Training with jemalloc as the C allocator", trainOutput);
        Assert.True(File.Exists(zip) && new FileInfo(zip).Length > 1_000_000, $"train did not write a model zip holding the network at {zip}:\n{trainOutput}");
        double validAccuracy = Number(trainOutput, @"Validation accuracy: (\d\.\d+)");

        // evaluate scores the zip with ONNX Runtime: the package's own native ONNX Runtime, on the images the
        // learner validated on, so the two accuracies agree up to an image whose score is a near tie.
        var (evaluateCode, evaluateOutput) = ProcessRunner.Run(tool, $"evaluate \"{zip}\" \"{Path.Combine(data, "testing")}\"", _packages.Root, env, timeoutSeconds: 300);
        Assert.True(evaluateCode == 0, "evaluate from the installed tool failed:\n" + evaluateOutput);
        double zipAccuracy = Number(evaluateOutput, @"Accuracy: (\d\.\d+) \(\d+/20\)");
        Assert.True(Math.Abs(validAccuracy - zipAccuracy) <= 1.0 / 20 + 1e-9, $"the learner validated at {validAccuracy}, the saved zip scores {zipAccuracy}");
    }

    private static string PackageType(ZipArchive package)
    {
        using var stream = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return (string)XDocument.Load(stream).Descendants().Single(e => e.Name.LocalName == "packageType").Attribute("name")!;
    }

    /// <summary>The native libraries each platform's tool cannot run without: libtorch, its .NET bridge, ONNX Runtime, SkiaSharp, HarfBuzz.</summary>
    private static string[] NativesEveryPackageNeeds(string rid) => rid switch
    {
        "linux-x64" => ["libtorch_cpu.so", "libLibTorchSharp.so", "libonnxruntime.so", "libSkiaSharp.so", "libHarfBuzzSharp.so"],
        "win-x64" => ["torch_cpu.dll", "LibTorchSharp.dll", "onnxruntime.dll", "libSkiaSharp.dll", "libHarfBuzzSharp.dll"],
        "osx-arm64" => ["libtorch_cpu.dylib", "libLibTorchSharp.dylib", "libonnxruntime.dylib", "libSkiaSharp.dylib", "libHarfBuzzSharp.dylib"],
        _ => throw new ArgumentOutOfRangeException(nameof(rid), rid, "no list of natives for this RID"),
    };

    /// <summary>
    /// The RID a native binary is built for, read from its header (ELF, Mach-O or PE), whatever its file name;
    /// null for anything else, .NET assemblies included (they are PE files too, but carry a CLR header).
    /// </summary>
    private static string? NativePlatform(ZipArchiveEntry entry)
    {
        var header = new byte[4096];
        int length;
        using (var stream = entry.Open()) length = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        var h = header.AsSpan(0, length);
        if (h.Length >= 20 && h.StartsWith("\u007FELF"u8))
            return BinaryPrimitives.ReadUInt16LittleEndian(h[18..]) switch { 62 => "linux-x64", 183 => "linux-arm64", var m => $"linux-machine-{m}" };
        if (h.Length >= 8 && BinaryPrimitives.ReadUInt32LittleEndian(h) == 0xFEEDFACF)
            return MacRid(BinaryPrimitives.ReadUInt32LittleEndian(h[4..]));
        if (h.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(h) == 0xCAFEBABE)
        {
            // A universal binary (SkiaSharp and HarfBuzz ship their macOS natives so): big-endian slice headers of
            // 20 bytes, the CPU type first. It serves osx-arm64 when one slice is arm64.
            uint count = BinaryPrimitives.ReadUInt32BigEndian(h[4..]);
            if (count == 0 || 8 + count * 20 > h.Length) return null;
            var rids = new List<string>();
            for (int i = 0; i < count; i++) rids.Add(MacRid(BinaryPrimitives.ReadUInt32BigEndian(h[(8 + i * 20)..])));
            return rids.Contains("osx-arm64") ? "osx-arm64" : string.Join("+", rids);
        }
        if (h.Length >= 0x40 && h[0] == 'M' && h[1] == 'Z')
        {
            int pe = BinaryPrimitives.ReadInt32LittleEndian(h[0x3C..]);
            if (pe < 0 || pe + 24 + 2 > h.Length || !h[pe..].StartsWith("PE\0\0"u8)) return null;
            ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(h[(pe + 4)..]);
            int optional = pe + 24;
            // The CLR runtime header is data directory 14; its offset depends on PE32 (0x10B) or PE32+ (0x20B).
            int directories = optional + (BinaryPrimitives.ReadUInt16LittleEndian(h[optional..]) == 0x20B ? 112 : 96);
            int clrSize = directories + 14 * 8 + 8 <= h.Length ? BinaryPrimitives.ReadInt32LittleEndian(h[(directories + 14 * 8 + 4)..]) : 0;
            if (clrSize != 0) return null;
            return machine switch { 0x8664 => "win-x64", 0xAA64 => "win-arm64", 0x14C => "win-x86", _ => $"win-machine-{machine:X}" };
        }
        return null;
    }

    private static string MacRid(uint cpuType) => cpuType switch { 0x0100000C => "osx-arm64", 0x01000007 => "osx-x64", _ => $"osx-cpu-{cpuType:X}" };

    private static double Number(string output, string pattern)
    {
        var match = Regex.Match(output, pattern);
        Assert.True(match.Success, $"no '{pattern}' in:\n{output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
