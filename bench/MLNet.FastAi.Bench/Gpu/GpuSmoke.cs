using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Gpu;

/// <summary>
/// <c>gpu-smoke</c>: the same small conv + batch-norm + linear network, with the same weights and inputs, run forward
/// and backward on CUDA and on the CPU; the outputs, loss and every gradient must agree. Exits 3 when CUDA is not
/// available, 1 when the results differ.
/// </summary>
internal static class GpuSmoke
{
    public const int CudaMissingExitCode = 3;

    public static int Run(BenchArgs args, BenchReport report)
    {
        // --cpu-only compares the CPU with itself: it exercises this command where there is no GPU.
        bool cpuOnly = args.Flag("cpu-only");
        args.RejectUnknown();
        TorchRuntime.EnsureInitialized();
        report.Environment("torch", TorchRuntime.Describe());
        if (cpuOnly) return CompareAll(report, CPU);
        if (!TorchRuntime.IsCudaAvailable)
        {
            string reason = TorchRuntime.LibTorchFolder is null
                ? "the loaded libtorch is a CPU build (set MLNET_FASTAI_LIBTORCH to a CUDA PyTorch's torch/lib)"
                : $"the libtorch in {TorchRuntime.LibTorchFolder} finds no CUDA device";
            report.Note($"CUDA not available: {reason}");
            Console.Error.WriteLine($"CUDA not available: {reason}.");
            return CudaMissingExitCode;
        }
        var gpu = TorchRuntime.ResolveDevice(ComputeDevice.Cuda);
        report.Environment("device", gpu.ToString());
        report.Environment("cudaDevices", cuda.device_count());
        report.Environment("cudnn", cuda.is_cudnn_available());
        return CompareAll(report, gpu);
    }

    private static int CompareAll(BenchReport report, Device target)
    {
        bool ok = true;
        // float32 convolutions may use TF32 on recent GPUs (about 1e-3 relative); float64 must agree almost exactly.
        ok &= Compare(report, target, ScalarType.Float32, tolerance: 5e-3);
        ok &= Compare(report, target, ScalarType.Float64, tolerance: 1e-9);
        report.Target($"{target} and CPU agree (conv + batch norm + linear, forward and backward)", ok, ok ? "within tolerance" : "see the differences above");
        return ok ? 0 : 1;
    }

    private static bool Compare(BenchReport report, Device gpu, ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var onCpu = Network();
        using var onGpu = Network();
        onGpu.load_state_dict(onCpu.state_dict());
        onCpu.to(dtype);
        onGpu.to(dtype).to(gpu);

        var x = randn(new long[] { 16, 3, 20, 20 }, dtype: dtype);
        var y = randint(0, 10, new long[] { 16 }, dtype: ScalarType.Int64);
        var (cpuOut, cpuLoss) = ForwardBackward(onCpu, x, y);
        var (gpuOut, gpuLoss) = ForwardBackward(onGpu, x.to(gpu), y.to(gpu));
        if (gpuOut.device.type != gpu.type)
            throw new InvalidOperationException($"The output lives on {gpuOut.device}, not on {gpu}.");

        string kind = dtype == ScalarType.Float32 ? "float32" : "float64";
        double outDiff = MaxAbsDiff(cpuOut, gpuOut);
        double lossDiff = MaxAbsDiff(cpuLoss, gpuLoss);
        double gradDiff = onCpu.parameters().Zip(onGpu.parameters()).Select(p => MaxAbsDiff(p.First.grad!, p.Second.grad!)).Max();
        double scale = Math.Max(1, cpuOut.abs().max().to(ScalarType.Float64).item<double>());
        report.Figure($"{kind}: max |CPU - {gpuOut.device}| outputs", outDiff, "");
        report.Figure($"{kind}: |CPU - {gpuOut.device}| loss", lossDiff, "");
        report.Figure($"{kind}: max |CPU - {gpuOut.device}| parameter gradients", gradDiff, "");
        bool ok = outDiff <= tolerance * scale && lossDiff <= tolerance * scale && gradDiff <= tolerance * scale;
        Console.WriteLine($"  {kind}: {(ok ? "agree" : "DIFFER")} (tolerance {tolerance:G2} × {scale:G3})");
        return ok;
    }

    private static nn.Module<Tensor, Tensor> Network() => nn.Sequential(
        ("conv", nn.Conv2d(3, 8, 3, padding: 1)),
        ("bn", nn.BatchNorm2d(8)),
        ("relu", nn.ReLU()),
        ("pool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("linear", nn.Linear(8, 10)));

    private static (Tensor Output, Tensor Loss) ForwardBackward(nn.Module<Tensor, Tensor> network, Tensor x, Tensor y)
    {
        network.train();
        var output = network.call(x);
        var loss = nn.functional.cross_entropy(output, y);
        loss.backward();
        return (output.detach(), loss.detach());
    }

    private static double MaxAbsDiff(Tensor a, Tensor b) => (a.cpu().to(ScalarType.Float64) - b.cpu().to(ScalarType.Float64)).abs().max().item<double>();
}
