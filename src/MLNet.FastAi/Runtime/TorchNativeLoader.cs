using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Finds and loads libtorch and TorchSharp's native bridge: from the application's own native folders, from a
/// libtorch folder the user names, and through a patched copy of the bridge where the system C++ runtime is too old.
/// </summary>
internal static class TorchNativeLoader
{
    internal const string BridgeName = "LibTorchSharp";
    private const string BridgeFile = "libLibTorchSharp.so";

    // Load order matters: each library's DT_NEEDED entries must already be in the process.
    private static readonly string[] CpuLibraries = { "libc10.so", "libtorch_cpu.so" };
    private static readonly string[] CudaLibraries = { "libc10_cuda.so", "libtorch_cuda.so" };
    private const string TorchStub = "libtorch.so";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, IntPtr> Loaded = new(StringComparer.Ordinal);
    private static int _registered;
    private static IntPtr _bridge;

    /// <summary>The folder given by <see cref="UseLibTorch"/> or the environment, once loaded.</summary>
    public static string? LibTorchFolder { get; private set; }

    /// <summary>What the loader did, for diagnostics.</summary>
    public static List<string> Trace { get; } = new();

    /// <summary>Hooks the default load context so that a failed load of the bridge is retried with the fix.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0) return;
        if (!OperatingSystem.IsLinux()) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += ResolveUnmanaged;
    }

    /// <summary>Loads libtorch from <paramref name="folder"/> (e.g. a PyTorch install's <c>torch/lib</c>).</summary>
    public static void UseLibTorch(string folder)
    {
        Register();
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"The libtorch folder '{full}' does not exist. Point {TorchRuntime.LibTorchEnvironmentVariable} or TorchRuntime.UseLibTorch at a folder holding libtorch_cpu.so (for example a PyTorch install's torch/lib).");
        var missing = CpuLibraries.Append(TorchStub).Where(f => !File.Exists(Path.Combine(full, f))).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"The folder '{full}' holds no libtorch: {string.Join(", ", missing)} not found there. Point it at a libtorch 'lib' folder (for example a PyTorch install's torch/lib).");

        lock (Gate)
        {
            if (LibTorchFolder is not null)
            {
                if (LibTorchFolder == full) return;
                throw new InvalidOperationException($"libtorch was already loaded from '{LibTorchFolder}'; a process can hold only one libtorch, so '{full}' cannot be loaded too.");
            }
            foreach (var file in CpuLibraries) LoadFile(Path.Combine(full, file));
            // CUDA parts are optional: a CPU-only libtorch folder has none.
            foreach (var file in CudaLibraries.Where(f => File.Exists(Path.Combine(full, f)))) LoadFile(Path.Combine(full, file));
            LoadFile(Path.Combine(full, TorchStub));
            LibTorchFolder = full;
            LoadBridge(Assembly.Load("TorchSharp"));
        }
    }

    private static IntPtr ResolveUnmanaged(Assembly requester, string name)
    {
        try
        {
            if (IsBridge(name))
            {
                lock (Gate) return LoadBridge(requester);
            }
            if (LibTorchFolder is not null && TryMapToLibTorchFolder(name, out var path))
            {
                lock (Gate) return LoadFile(path);
            }
        }
        catch (Exception e) when (e is IOException or NotSupportedException or DllNotFoundException or BadImageFormatException or InvalidDataException or UnauthorizedAccessException)
        {
            Trace.Add($"resolving {name}: {e.Message}");
        }
        return IntPtr.Zero;
    }

    private static bool IsBridge(string name) =>
        name is BridgeName or BridgeFile or "libLibTorchSharp";

    private static bool TryMapToLibTorchFolder(string name, out string path)
    {
        string file = name.StartsWith("lib", StringComparison.Ordinal) ? name : "lib" + name;
        if (!file.EndsWith(".so", StringComparison.Ordinal)) file += ".so";
        path = Path.Combine(LibTorchFolder!, file);
        return File.Exists(path);
    }

    private static IntPtr LoadBridge(Assembly requester)
    {
        if (_bridge != IntPtr.Zero) return _bridge;
        string original = FindBridge(requester)
            ?? throw new DllNotFoundException($"{BridgeFile} was not found next to {requester.GetName().Name} or in its native folders; reference the TorchSharp package.");
        string loadable = LibStdCxxCompatibility.PrepareLoadableCopy(original, NativeCacheFolder(), LibStdCxxCompatibility.FindSystemLibStdCxx());
        if (loadable != original)
        {
            Trace.Add($"{original} needs a newer libstdc++ than this system has; loading the weak-versioned copy {loadable}");
            // The copy sits in another folder, so its RUNPATH ($ORIGIN) no longer finds libtorch: load those first.
            PreloadDependencies(loadable, Path.GetDirectoryName(original)!);
        }
        _bridge = LoadFile(loadable);
        return _bridge;
    }

    private static void PreloadDependencies(string library, string originalFolder)
    {
        var folders = new[] { LibTorchFolder, originalFolder }.Concat(NativeSearchFolders(null)).OfType<string>().Distinct();
        foreach (var needed in ElfImage.Load(library).NeededLibraries())
        {
            var candidate = folders.Select(f => Path.Combine(f, needed)).FirstOrDefault(File.Exists);
            if (candidate is not null) LoadFile(candidate);
        }
    }

    private static string? FindBridge(Assembly requester) =>
        NativeSearchFolders(requester).Select(f => Path.Combine(f, BridgeFile)).FirstOrDefault(File.Exists)
        ?? FindInNuGetCache(requester);

    private static IEnumerable<string> NativeSearchFolders(Assembly? requester)
    {
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string dirs)
            foreach (var d in dirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)) yield return d;
        foreach (var baseDir in new[] { requester is null ? null : Path.GetDirectoryName(requester.Location), AppContext.BaseDirectory })
        {
            if (string.IsNullOrEmpty(baseDir)) continue;
            yield return baseDir;
            yield return Path.Combine(baseDir, "runtimes", RuntimeIdentifier, "native");
        }
    }

    private static string? FindInNuGetCache(Assembly requester)
    {
        // For hosts that run straight from the NuGet cache (dotnet-script, notebooks) there is no output folder.
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string? version = requester.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
        if (version is null) return null;
        string candidate = Path.Combine(packages, "torchsharp", version, "runtimes", RuntimeIdentifier, "native", BridgeFile);
        return File.Exists(candidate) ? candidate : null;
    }

    private static string RuntimeIdentifier => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    /// <summary>The folder this package owns for patched native copies.</summary>
    internal static string NativeCacheFolder()
    {
        string? configured = Environment.GetEnvironmentVariable(TorchRuntime.NativeCacheEnvironmentVariable);
        if (!string.IsNullOrEmpty(configured)) return configured;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(root, "mlnet-fastai", "native");
    }

    private static IntPtr LoadFile(string path)
    {
        if (Loaded.TryGetValue(path, out var handle)) return handle;
        handle = NativeLibrary.Load(path);
        Loaded[path] = handle;
        Trace.Add($"loaded {path}");
        return handle;
    }
}
