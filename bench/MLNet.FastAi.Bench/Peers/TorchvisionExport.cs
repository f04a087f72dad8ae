using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Peers;

/// <summary>
/// <c>export-torchvision-resnet18</c>: the package's pretrained resnet18 body, exactly as <c>Learner.Vision</c> builds
/// it (ML.NET's ImageNet weights, ImageNet statistics folded into the stem), written under torchvision's state-dict
/// names so that the real fastai can start from the very same weights (bench/accuracy/fastai/convert_weights.py turns
/// the folder into <c>resnet18-f37072fd.pth</c>). A seeded input batch and the body's pooled features on it come
/// along, so the Python side can check the conversion.
/// </summary>
/// <remarks>
/// Layout: one NumPy <c>.npy</c> file per tensor (readable by numpy alone; no pickle), and <c>index.json</c> with
/// every name, file, dtype and shape. The body's state-dict names already are torchvision's (its fields are named
/// after them), so the names are taken from <c>state_dict()</c> and only checked, not mapped.
/// </remarks>
internal static class TorchvisionExport
{
    /// <summary>torchvision's BatchNorm2d epsilon; the exported running variances are shifted to it.</summary>
    private const double TorchvisionEps = 1e-5;

    public static int Run(BenchArgs args, BenchReport report)
    {
        string output = args.Required("out");
        int batch = args.Int("batch", 4);
        int size = args.Int("size", 224, min: 32);
        int seed = args.Int("seed", 1, min: 0);
        args.RejectUnknown();
        TorchRuntime.EnsureInitialized();
        report.Environment("torch", TorchRuntime.Describe());
        Directory.CreateDirectory(output);

        // The learner's own path for a pretrained resnet18 on data without its own normalization (Learner.Vision).
        var stats = NormalizationStats.ImageNet;
        using var body = new ResNetBody(ResNetArchitecture.ResNet18);
        MLNetResNet18Weights.Load(body, stats);
        body.eval();

        var tensors = new JsonArray();
        var epsilons = new SortedSet<double>();
        using (var scope = NewDisposeScope())
        {
            var norms = body.named_modules().Where(m => m.module is TorchSharp.Modules.BatchNorm2d)
                .ToDictionary(m => m.name, m => (TorchSharp.Modules.BatchNorm2d)m.module);
            foreach (var (name, tensor) in body.state_dict())
            {
                CheckTorchvisionName(name);
                var value = tensor.detach().cpu().contiguous();
                // The ONNX import keeps CNTK's epsilon on each batch norm; torchvision's is 1e-5. In eval mode
                // var + eps is all that matters, so shifting the running variance keeps the outputs identical.
                if (name.EndsWith(".running_var", StringComparison.Ordinal))
                {
                    double eps = norms[name[..^".running_var".Length]].eps;
                    epsilons.Add(eps);
                    if ((float)eps != (float)TorchvisionEps) value = value + (eps - TorchvisionEps);
                }
                tensors.Add(WriteNpy(output, name, value));
            }
        }
        report.Figure("tensors written", tensors.Count, "");
        report.Note($"batch-norm epsilons in the package: {string.Join(", ", epsilons.Select(e => e.ToString("G9", System.Globalization.CultureInfo.InvariantCulture)))}; running_var shifted where eps is not 1e-5");

        JsonObject check;
        using (var scope = NewDisposeScope())
        using (var _ = no_grad())
        {
            // Pixels in 0..1 drawn from a seeded generator, then normalized as the learner's batches are.
            using var generator = new Generator((ulong)seed);
            var pixels = rand(new long[] { batch, 3, size, size }, generator: generator);
            var mean = tensor(stats.Mean.ToArray()).reshape(1, 3, 1, 1);
            var std = tensor(stats.Std.ToArray()).reshape(1, 3, 1, 1);
            var input = (pixels - mean) / std;
            var features = body.call(input).mean(new long[] { 2, 3 });   // global average pooling: [batch, 512]
            check = new JsonObject
            {
                ["input"] = WriteNpy(output, "check.input", input),
                ["features"] = WriteNpy(output, "check.features", features),
                ["seed"] = seed,
                ["normalization"] = new JsonObject { ["mean"] = ToJson(stats.Mean), ["std"] = ToJson(stats.Std) },
            };
        }

        var index = new JsonObject
        {
            ["format"] = "one .npy per tensor; names are torchvision resnet18 state-dict keys (no fc.*)",
            ["architecture"] = "resnet18",
            ["source"] = "ML.NET ResNet18.onnx via MLNetResNet18Weights.Load (ImageNet stats folded into the stem)",
            ["batchNormEps"] = TorchvisionEps,
            ["tensors"] = tensors,
            ["check"] = check,
        };
        File.WriteAllText(Path.Combine(output, "index.json"), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"Wrote {tensors.Count} tensors, the check batch and index.json to {output}");
        return 0;
    }

    /// <summary>torchvision's resnet18 keys: conv1/bn1 stem, then layerN.B.(conv|bn)K and layerN.0.downsample.(0|1).</summary>
    private static void CheckTorchvisionName(string name)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(name,
                @"^(conv1\.weight|bn1\.\w+|layer[1-4]\.[01]\.(conv[12]\.weight|bn[12]\.\w+|downsample\.0\.weight|downsample\.1\.\w+))$"))
            throw new InvalidOperationException($"The body's state dict has '{name}', which is not a torchvision resnet18 key.");
    }

    private static JsonArray ToJson(IReadOnlyList<float> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());

    /// <summary>Writes <paramref name="value"/> as NumPy format 1.0 (little-endian float32 or int64, C order).</summary>
    internal static JsonObject WriteNpy(string folder, string name, Tensor value)
    {
        value = value.detach().cpu().contiguous();
        string descr;
        byte[] data;
        switch (value.dtype)
        {
            case ScalarType.Float32:
                descr = "<f4";
                data = MemoryMarshal.AsBytes(value.data<float>().ToArray().AsSpan()).ToArray();
                break;
            case ScalarType.Int64:
                descr = "<i8";
                data = MemoryMarshal.AsBytes(value.data<long>().ToArray().AsSpan()).ToArray();
                break;
            default:
                throw new InvalidOperationException($"'{name}' is {value.dtype}; only float32 and int64 are exported.");
        }
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The .npy files are written little-endian.");
        string shape = value.shape.Length switch
        {
            0 => "()",
            1 => $"({value.shape[0]},)",
            _ => "(" + string.Join(", ", value.shape) + ")",
        };
        // The header (magic, version, length, dict) is padded with spaces to a multiple of 64 bytes, ending in '\n'.
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int unpadded = 10 + dict.Length + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        string file = name + ".npy";
        using (var stream = File.Create(Path.Combine(folder, file)))
        {
            stream.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
            stream.Write(BitConverter.GetBytes((ushort)header.Length));
            stream.Write(Encoding.ASCII.GetBytes(header));
            stream.Write(data);
        }
        return new JsonObject
        {
            ["name"] = name,
            ["file"] = file,
            ["dtype"] = descr,
            ["shape"] = new JsonArray(value.shape.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
        };
    }
}
