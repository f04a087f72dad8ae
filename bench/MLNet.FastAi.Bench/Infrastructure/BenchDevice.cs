using MLNet.FastAi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>The device a benchmark runs on, and how to wait for it before reading a clock.</summary>
internal static class BenchDevice
{
    public static ComputeDevice Parse(string? name) => name?.ToLowerInvariant() switch
    {
        null or "cpu" => ComputeDevice.Cpu,
        "cuda" or "gpu" => ComputeDevice.Cuda,
        "auto" => ComputeDevice.Auto,
        _ => throw new UsageException($"--device must be cpu, cuda or auto; got '{name}'."),
    };

    /// <summary>Waits for queued CUDA work (kernels run asynchronously); nothing to wait for on the CPU.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Records the native set-up and threading in the report.</summary>
    public static void Describe(BenchReport report, Device device)
    {
        report.Environment("torch", TorchRuntime.Describe());
        report.Environment("device", device.ToString());
        report.Environment("torchThreads", get_num_threads());
        if (device.type == DeviceType.CUDA) report.Environment("cudaDevices", cuda.device_count());
    }
}
