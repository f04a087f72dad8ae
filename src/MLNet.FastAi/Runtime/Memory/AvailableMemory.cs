using MLNet.FastAi.Internal;
using System.Globalization;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// How much more memory this process may take before the kernel's OOM killer ends it: the control group's limit
/// minus what the group uses (cgroup v2 <c>memory.max</c>, v1 <c>memory.limit_in_bytes</c>) when a limit is set, and
/// never more than the machine's <c>MemAvailable</c>. Page cache the kernel can drop (inactive files) counts as free.
/// </summary>
internal static class AvailableMemory
{
    private static readonly AsyncLocal<long?> Override = new();

    /// <summary>A value the current async flow sees instead of the machine's (tests of the refusals).</summary>
    internal static IDisposable Pretend(long bytes)
    {
        var previous = Override.Value;
        Override.Value = bytes;
        return new Restore(previous);
    }

    private sealed class Restore(long? previous) : IDisposable
    {
        public void Dispose() => Override.Value = previous;
    }

    /// <summary>
    /// The bytes available, and where the figure comes from (for messages); null when unknown (not Linux). Memory
    /// the process's own C heap holds free (kept by <see cref="Runtime.MemoryRetention"/>) counts as available: the
    /// next allocations reuse it.
    /// </summary>
    public static (long Bytes, string Source)? Read()
    {
        if (Override.Value is { } pretended) return (pretended, "set by a test");
        long? machine = MemInfo("MemAvailable");
        var group = ControlGroup();
        if (machine is null && group is null) return null;
        var (bytes, source) = group is { } g && (machine is null || g.Bytes < machine) ? g : (machine!.Value, "MemAvailable");
        long heap = FreeHeapBytes();
        return heap > 0 ? (bytes + heap, $"{source}, plus {Bytes.Format(heap)} free in this process's heap") : (bytes, source);
    }

    /// <summary>Bytes glibc's heap holds free for reuse (<c>mallinfo2().fordblks</c>); 0 where unknown.</summary>
    private static long FreeHeapBytes()
    {
        try
        {
            return (long)mallinfo2().FreeBytes;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>glibc's <c>struct mallinfo2</c> (2.33 and later): ten <c>size_t</c> fields.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdinaryBlocks, SmallBlocks, MappedBlocks, MappedBytes, MaxTotal, FreedFastBytes, UsedBytes, FreeBytes, Releasable;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();

    private static long? MemInfo(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith(key + ":", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static (long Bytes, string Source)? ControlGroup() => ControlGroup("/proc/self/cgroup", "/sys/fs/cgroup");

    /// <summary>
    /// The least memory left under any limit on the way from the process's control group up to the hierarchy's root:
    /// a parent's limit (a systemd slice, a container's group) binds its children even when their own is unlimited.
    /// </summary>
    internal static (long Bytes, string Source)? ControlGroup(string cgroupFile, string mount)
    {
        try
        {
            foreach (var line in File.ReadLines(cgroupFile))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                if (parts[0] == "0" && parts[1] == "")
                {
                    var found = Tightest(GroupAndParents(mount, parts[2]), "memory.max", "memory.current", "inactive_file");
                    if (found is not null) return found;
                }
                else if (parts[1].Split(',').Contains("memory"))
                {
                    var found = Tightest(GroupAndParents(Path.Combine(mount, "memory"), parts[2]), "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file");
                    if (found is not null) return found;
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>
    /// The group's folder and each parent up to the mount. Inside a container the mount's root is the container's own
    /// group, and the path /proc names (the host's) may not exist there: the root is still read.
    /// </summary>
    private static IEnumerable<string> GroupAndParents(string mount, string group)
    {
        mount = Path.TrimEndingDirectorySeparator(mount);
        for (string? folder = Path.TrimEndingDirectorySeparator(Path.Combine(mount, group.TrimStart('/')));
             folder is not null && folder.Length > mount.Length;
             folder = Path.GetDirectoryName(folder))
            yield return folder;
        yield return mount;
    }

    private static (long Bytes, string Source)? Tightest(IEnumerable<string> folders, string limitFile, string usageFile, string inactiveKey)
    {
        (long Bytes, string Source)? tightest = null;
        foreach (var folder in folders)
            if (Left(folder, limitFile, usageFile, inactiveKey) is { } left && (tightest is null || left.Bytes < tightest.Value.Bytes))
                tightest = left;
        return tightest;
    }

    /// <summary>What a group's limit leaves (its limit, less its usage, plus page cache it can drop); null without a limit.</summary>
    private static (long Bytes, string Source)? Left(string folder, string limitFile, string usageFile, string inactiveKey)
    {
        string limitPath = Path.Combine(folder, limitFile);
        if (!File.Exists(limitPath)) return null;
        string text = File.ReadAllText(limitPath).Trim();
        // No limit: "max" (v2) or a value near 2^63 (v1).
        if (text == "max" || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) || limit >= 1L << 60) return null;
        string usagePath = Path.Combine(folder, usageFile);
        long usage = File.Exists(usagePath) && long.TryParse(File.ReadAllText(usagePath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long u) ? u : 0;
        long reclaimable = 0;
        string stat = Path.Combine(folder, "memory.stat");
        if (File.Exists(stat))
            foreach (var line in File.ReadLines(stat))
                if (line.StartsWith(inactiveKey + " ", StringComparison.Ordinal))
                    reclaimable = long.Parse(line[(inactiveKey.Length + 1)..], CultureInfo.InvariantCulture);
        return (Math.Max(0, limit - usage + reclaimable), $"the control group's limit {Bytes.Format(limit)} ({limitPath})");
    }
}
