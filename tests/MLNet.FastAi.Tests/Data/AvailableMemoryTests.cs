using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Tests.Interpretation.Plots;
using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Tests.Data;

/// <summary>
/// The memory the package may still use under control groups, read from a fake <c>/proc/self/cgroup</c> and cgroup
/// tree: the tightest limit between the process's group and the root binds, a parent's included.
/// </summary>
public sealed class AvailableMemoryTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly TemporaryFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Mount => Path.Combine(_temp.Path, "cgroup");

    private string ProcFile(string content)
    {
        string path = Path.Combine(_temp.Path, "proc-self-cgroup");
        File.WriteAllText(path, content + "\n");
        return path;
    }

    private void Group(string relative, Dictionary<string, string> files)
    {
        string folder = Path.Combine(Mount, relative);
        Directory.CreateDirectory(folder);
        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(folder, name), text + "\n");
    }

    [Fact]
    public void AParentsLimit_BindsAGroupWithoutOne_AndTheTightestLimitWins()
    {
        Group("user.slice", new() { ["memory.max"] = $"{1024 * MiB}", ["memory.current"] = $"{256 * MiB}", ["memory.stat"] = $"anon 1\ninactive_file {64 * MiB}\nactive_file 5" });
        Group("user.slice/user-0.slice", new() { ["memory.max"] = "max", ["memory.current"] = $"{200 * MiB}" });
        Group("user.slice/user-0.slice/session-1.scope", new() { ["memory.max"] = "max", ["memory.current"] = $"{100 * MiB}" });
        string proc = ProcFile("0::/user.slice/user-0.slice/session-1.scope");

        var parent = AvailableMemory.ControlGroup(proc, Mount);
        Assert.Equal((1024 - 256 + 64) * MiB, parent?.Bytes);
        Assert.Contains(Path.Combine("user.slice", "memory.max"), parent?.Source);

        File.WriteAllText(Path.Combine(Mount, "user.slice/user-0.slice/session-1.scope/memory.max"), $"{110 * MiB}\n");
        var own = AvailableMemory.ControlGroup(proc, Mount);
        Assert.Equal(10 * MiB, own?.Bytes);
        Assert.Contains("session-1.scope", own?.Source);
    }

    [Fact]
    public void NoLimitAnywhere_IsNoFigure_AndAContainersRootGroupIsRead()
    {
        Group("system.slice/app.service", new() { ["memory.max"] = "max", ["memory.current"] = "1" });
        Assert.Null(AvailableMemory.ControlGroup(ProcFile("0::/system.slice/app.service"), Mount));

        // In a container /proc names the host's path, which does not exist inside; the mount's root is its group.
        File.WriteAllText(Path.Combine(Mount, "memory.max"), $"{512 * MiB}\n");
        File.WriteAllText(Path.Combine(Mount, "memory.current"), $"{12 * MiB}\n");
        Assert.Equal(500 * MiB, AvailableMemory.ControlGroup(ProcFile("0::/docker/0123abcd"), Mount)?.Bytes);
    }

    [Fact]
    public void CgroupV1_ReadsTheMemoryControllersHierarchy()
    {
        Group("memory/docker", new() { ["memory.limit_in_bytes"] = $"{2048 * MiB}", ["memory.usage_in_bytes"] = $"{48 * MiB}" });
        Group("memory/docker/0123abcd", new() { ["memory.limit_in_bytes"] = "9223372036854771712", ["memory.usage_in_bytes"] = $"{40 * MiB}",
            ["memory.stat"] = $"cache 1\ntotal_inactive_file {8 * MiB}" });
        var found = AvailableMemory.ControlGroup(ProcFile("12:cpu,cpuacct:/docker/0123abcd\n4:memory:/docker/0123abcd"), Mount);
        Assert.Equal(2000 * MiB, found?.Bytes);
    }
}
