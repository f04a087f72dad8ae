using System.Runtime.InteropServices;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Turns libtorch's NNPACK convolutions off, as PyTorch's <c>torch.backends.nnpack.set_flags(False)</c> does.
/// </summary>
/// <remarks>
/// libtorch asks NNPACK whether it can run at every convolution oneDNN does not take (small batches of 1×1 kernels on
/// one thread), and where NNPACK does not know the CPU (AVX-512 servers among them) it logs "Could not initialize
/// NNPACK! Reason: Unsupported hardware." each time: 19 lines on the console in one single-image prediction. Nothing is
/// lost by the switch: float32 batches of 16 and more, the only ones NNPACK would run, go to oneDNN first. TorchSharp
/// has no such setting, so this calls libtorch's <c>at::globalContext().setUserEnabledNNPACK</c> by its (Itanium C++)
/// symbol name; where the symbols are missing (another platform's libtorch) it does nothing.
/// </remarks>
internal static unsafe class NnpackSwitch
{
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetUserEnabledNnpack = "_ZN2at7Context20setUserEnabledNNPACKEb";

    /// <summary>Sets whether libtorch may use NNPACK; false when libtorch's symbols could not be found.</summary>
    public static bool TrySet(bool enabled)
    {
        if (!OperatingSystem.IsLinux() || LoadedLibTorchCpu() is not { } path || !NativeLibrary.TryLoad(path, out var library)) return false;
        try
        {
            if (!NativeLibrary.TryGetExport(library, GlobalContext, out var context) ||
                !NativeLibrary.TryGetExport(library, SetUserEnabledNnpack, out var set)) return false;
            // A non-virtual member function takes its object as the first argument under the Itanium C++ ABI.
            IntPtr instance = ((delegate* unmanaged<IntPtr>)context)();
            ((delegate* unmanaged<IntPtr, byte, void>)set)(instance, enabled ? (byte)1 : (byte)0);
            return true;
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }

    /// <summary>The path of the libtorch_cpu the process has loaded, wherever it came from (NuGet, a PyTorch install).</summary>
    private static string? LoadedLibTorchCpu()
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is var start and >= 0 ? line[start..] : null)
                .FirstOrDefault(path => path is not null && Path.GetFileName(path) == "libtorch_cpu.so");
        }
        catch (IOException)
        {
            return null;
        }
    }
}
