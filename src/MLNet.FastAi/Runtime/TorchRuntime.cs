using System.Runtime.CompilerServices;
using Microsoft.ML;
using TorchSharp;

namespace MLNet.FastAi.Runtime;

/// <summary>Which device training and prediction run on.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when a CUDA libtorch and a GPU are present, else CPU; <see cref="MLContext.GpuDeviceId"/> picks the GPU.</summary>
    Auto,
    /// <summary>Always the CPU.</summary>
    Cpu,
    /// <summary>A CUDA GPU; an error when none is usable (unless <see cref="MLContext.FallbackToCpu"/> is set).</summary>
    Cuda,
}

/// <summary>
/// Native set-up of TorchSharp for this package: the libstdc++ compatibility fix, bring-your-own libtorch, and device choice.
/// </summary>
/// <remarks>
/// Every entry point of the package calls <see cref="EnsureInitialized"/>, and projects that reference the package get a
/// module initializer that registers the native fix before their <c>Main</c>, so nothing needs calling by hand.
/// Call <see cref="UseLibTorch"/> (or set <see cref="LibTorchEnvironmentVariable"/>) to run on an existing libtorch,
/// such as a CUDA PyTorch install, instead of the TorchSharp-cpu / TorchSharp-cuda packages. Thread-safe.
/// </remarks>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a libtorch folder (e.g. <c>.../site-packages/torch/lib</c>) to load at start-up.</summary>
    public const string LibTorchEnvironmentVariable = "MLNET_FASTAI_LIBTORCH";

    /// <summary>Environment variable overriding the folder where patched native copies are cached.</summary>
    public const string NativeCacheEnvironmentVariable = "MLNET_FASTAI_NATIVE_CACHE";

    private static readonly object Gate = new();
    private static bool _initialized;
    private static bool? _cudaAvailable;

    /// <summary>
    /// Registers the native-loading fix and applies <see cref="MemoryRetention"/>'s process setting. Safe to call any
    /// number of times; called by a module initializer.
    /// </summary>
    public static void RegisterNativeResolver()
    {
        TorchNativeLoader.Register();
        MemoryRetention.ApplyOnce();
    }

    /// <summary>
    /// Loads libtorch from <paramref name="folder"/> before TorchSharp starts: <c>libc10</c>, <c>libtorch_cpu</c>,
    /// <c>libc10_cuda</c> and <c>libtorch_cuda</c> when present, <c>libtorch</c>, then TorchSharp's bridge.
    /// Must run before anything else touches TorchSharp, in a program that does not also ship TorchSharp-cpu.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder holds no libtorch.</exception>
    public static void UseLibTorch(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        TorchNativeLoader.UseLibTorch(folder);
    }

    /// <summary>The libtorch folder in use when one was chosen with <see cref="UseLibTorch"/>; otherwise null.</summary>
    public static string? LibTorchFolder => TorchNativeLoader.LibTorchFolder;

    /// <summary>
    /// Makes sure libtorch is loaded (honouring <see cref="LibTorchEnvironmentVariable"/>) and explains clearly when it cannot be.
    /// </summary>
    public static void EnsureInitialized()
    {
        if (_initialized) return;
        lock (Gate)
        {
            if (_initialized) return;
            TorchNativeLoader.Register();
            MemoryRetention.ApplyOnce();
            string? folder = Environment.GetEnvironmentVariable(LibTorchEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(folder)) TorchNativeLoader.UseLibTorch(folder);
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
            {
                throw new InvalidOperationException(
                    "libtorch could not be loaded. Reference the TorchSharp-cpu package (or TorchSharp-cuda-linux), or point " +
                    $"{LibTorchEnvironmentVariable} at a libtorch folder such as a PyTorch install's torch/lib. " +
                    $"Loader trace: {string.Join("; ", TorchNativeLoader.Trace)}", e);
            }
            NnpackSwitch.TrySet(enabled: false);
            _initialized = true;
        }
    }

    /// <summary>True when a CUDA libtorch is loaded and a GPU answers.</summary>
    public static bool IsCudaAvailable
    {
        get
        {
            EnsureInitialized();
            lock (Gate)
            {
                // The answer cannot change within a process, and asking loads CUDA libraries: ask once.
                _cudaAvailable ??= torch.cuda.is_available();
                return _cudaAvailable.Value;
            }
        }
    }

    /// <summary>
    /// The TorchSharp device for a choice, honouring <see cref="MLContext.GpuDeviceId"/> and
    /// <see cref="MLContext.FallbackToCpu"/> the way ML.NET's own TorchSharp trainers do.
    /// </summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for and none is usable, without fallback.</exception>
    public static torch.Device ResolveDevice(ComputeDevice choice, MLContext? context = null)
    {
        EnsureInitialized();
        int? gpu = context?.GpuDeviceId;
        bool fallback = context?.FallbackToCpu ?? false;
        bool cudaWanted = choice == ComputeDevice.Cuda || (choice == ComputeDevice.Auto && gpu is not null);
        if (choice == ComputeDevice.Cpu) return torch.CPU;
        if (IsCudaAvailable)
        {
            int index = gpu ?? 0;
            int count = torch.cuda.device_count();
            if (index < 0 || index >= count)
                throw new InvalidOperationException($"GPU {index} was asked for (MLContext.GpuDeviceId) but this machine has {count} CUDA device(s).");
            return torch.device(DeviceType.CUDA, index);
        }
        if (cudaWanted && !fallback)
            throw new InvalidOperationException(
                "CUDA was asked for but is not available: " + CudaAbsenceReason() +
                " Set MLContext.FallbackToCpu = true to train on the CPU instead, or choose ComputeDevice.Cpu.");
        return torch.CPU;
    }

    private static string CudaAbsenceReason() => LibTorchFolder is null
        ? "the loaded libtorch is the CPU build (reference TorchSharp-cuda-linux, or set " + LibTorchEnvironmentVariable + " to a CUDA PyTorch install's torch/lib)."
        : $"the libtorch in '{LibTorchFolder}' has no usable CUDA device.";

    /// <summary>A one-line description of the native set-up, for logs and bug reports.</summary>
    public static string Describe()
    {
        EnsureInitialized();
        return $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, " +
               $"{(LibTorchFolder is null ? "packaged libtorch" : "libtorch from " + LibTorchFolder)}, CUDA {(IsCudaAvailable ? "available" : "not available")}";
    }
}

internal static class NativeModuleInitializer
{
    // CA2255 warns libraries off module initializers; this one must run before any TorchSharp type loads its native
    // bridge, which no call of ours is sure to precede (users touch torch directly), and it only registers a resolver.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void Initialize() => TorchNativeLoader.Register();
#pragma warning restore CA2255
}
