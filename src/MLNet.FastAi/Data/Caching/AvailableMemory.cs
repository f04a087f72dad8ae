using System.Globalization;

namespace MLNet.FastAi.Data.Caching;

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

    private static (long Bytes, string Source)? ControlGroup()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                if (parts[0] == "0" && parts[1] == "")
                {
                    var found = Limit(Candidates("/sys/fs/cgroup", parts[2]), "memory.max", "memory.current", "inactive_file");
                    if (found is not null) return found;
                }
                else if (parts[1].Split(',').Contains("memory"))
                {
                    var found = Limit(Candidates("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file");
                    if (found is not null) return found;
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>The group's own folder, or the mount's root when the container shows its group there.</summary>
    private static IEnumerable<string> Candidates(string mount, string group) =>
        new[] { Path.Combine(mount, group.TrimStart('/')), mount }.Distinct();

    private static (long Bytes, string Source)? Limit(IEnumerable<string> folders, string limitFile, string usageFile, string inactiveKey)
    {
        foreach (var folder in folders)
        {
            string limitPath = Path.Combine(folder, limitFile);
            if (!File.Exists(limitPath)) continue;
            string text = File.ReadAllText(limitPath).Trim();
            // No limit: "max" (v2) or a value near 2^63 (v1).
            if (text == "max" || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) || limit >= 1L << 60) return null;
            long usage = long.TryParse(File.ReadAllText(Path.Combine(folder, usageFile)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long u) ? u : 0;
            long reclaimable = 0;
            string stat = Path.Combine(folder, "memory.stat");
            if (File.Exists(stat))
                foreach (var line in File.ReadLines(stat))
                    if (line.StartsWith(inactiveKey + " ", StringComparison.Ordinal))
                        reclaimable = long.Parse(line[(inactiveKey.Length + 1)..], CultureInfo.InvariantCulture);
            return (Math.Max(0, limit - usage + reclaimable), $"the control group's limit {Bytes.Format(limit)} ({limitPath})");
        }
        return null;
    }
}

/// <summary>Byte counts for people.</summary>
internal static class Bytes
{
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0} KiB",
        _ => $"{bytes} bytes",
    };
}
