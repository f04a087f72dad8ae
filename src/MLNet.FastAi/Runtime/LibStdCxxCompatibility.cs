using System.Security.Cryptography;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Makes TorchSharp's native bridge load on Linux systems whose libstdc++ predates GCC 13.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> records a need for <c>GLIBCXX_3.4.32</c> only because of
/// <c>std::ios_base_library_init</c>, a symbol GCC 13 emits for iostream initialisation and that nothing calls.
/// Debian 12 and Ubuntu 22.04 ship 3.4.30, so the dynamic loader refuses the whole library. Marking that one
/// version need weak (<c>VER_FLG_WEAK</c>) turns the refusal into nothing at all. The edit is made to a copy in a
/// cache folder this package owns, never to the NuGet cache, and only when the running system lacks the version
/// and every symbol bound to it is known to be unused; anything else is left alone and reported.
/// </remarks>
internal static class LibStdCxxCompatibility
{
    private const string LibStdCxx = "libstdc++.so.6";

    /// <summary>Symbols that may stay unresolved because nothing in TorchSharp's bridge calls them.</summary>
    internal static readonly IReadOnlySet<string> SymbolsSafeToLeaveUnresolved =
        new HashSet<string>(StringComparer.Ordinal) { "_ZSt21ios_base_library_initv" };

    /// <summary>Where the system's libstdc++ is: the one already mapped into this process, else the usual places.</summary>
    public static string? FindSystemLibStdCxx()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.EndsWith("/" + LibStdCxx, StringComparison.Ordinal)) return line[slash..];
                if (slash >= 0 && line.Contains("/libstdc++.so.6.", StringComparison.Ordinal)) return line[slash..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// The version needs of <paramref name="library"/> on libstdc++ that <paramref name="systemVersions"/> lacks
    /// and that are not weak already.
    /// </summary>
    public static IReadOnlyList<VersionNeed> MissingNeeds(ElfImage library, IReadOnlySet<string> systemVersions) =>
        library.NeededVersions()
            .Where(n => n.File == LibStdCxx && !systemVersions.Contains(n.Name) && (n.Flags & ElfImage.VerFlagWeak) == 0)
            .ToList();

    /// <summary>
    /// Marks each missing need weak, after checking that only symbols known to be unused depend on it.
    /// </summary>
    /// <exception cref="NotSupportedException">A missing version carries a symbol the library may call.</exception>
    public static void MarkWeak(ElfImage library, IReadOnlyList<VersionNeed> missing)
    {
        foreach (var need in missing)
        {
            var bound = library.SymbolsBoundToVersion(need.VersionIndex);
            var unsafeSymbols = bound.Where(s => !SymbolsSafeToLeaveUnresolved.Contains(s)).ToList();
            if (unsafeSymbols.Count > 0)
                throw new NotSupportedException(
                    $"'{library.Path}' needs {need.Name} from {LibStdCxx}, which this system's C++ runtime lacks, " +
                    $"for symbols it may call ({string.Join(", ", unsafeSymbols.Take(5))}). Install a libstdc++ from GCC 13 or newer.");
            library.SetVersionNeedFlags(need, (ushort)(need.Flags | ElfImage.VerFlagWeak));
        }
    }

    /// <summary>
    /// Returns a path to a copy of <paramref name="originalPath"/> that loads on this system, or the original path
    /// when it already loads as it is.
    /// </summary>
    public static string PrepareLoadableCopy(string originalPath, string cacheRoot, string? systemLibStdCxx)
    {
        if (systemLibStdCxx is null) return originalPath;
        var library = ElfImage.Load(originalPath);
        var missing = MissingNeeds(library, ElfImage.Load(systemLibStdCxx).DefinedVersions());
        if (missing.Count == 0) return originalPath;

        MarkWeak(library, missing);
        string hash = Convert.ToHexString(SHA256.HashData(library.Bytes))[..16].ToLowerInvariant();
        string folder = Path.Combine(cacheRoot, hash);
        string target = Path.Combine(folder, Path.GetFileName(originalPath));
        if (File.Exists(target)) return target;

        Directory.CreateDirectory(folder);
        // Written aside, then moved: a process that dies mid-write never leaves a half library under the final name.
        string temporary = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temporary, library.Bytes);
        try { File.Move(temporary, target, overwrite: true); }
        catch (IOException) when (File.Exists(target)) { File.Delete(temporary); }
        return target;
    }
}
