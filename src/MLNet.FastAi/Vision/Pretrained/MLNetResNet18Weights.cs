using System.Reflection;
using MLNet.FastAi.Data;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Vision.Pretrained;

/// <summary>
/// Imports the ImageNet ResNet-18 that ships offline in the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18
/// (<c>ResNet18.onnx</c>, a CNTK export ending at the 512-feature average pool) into a <see cref="ResNetBody"/>.
/// </summary>
/// <remarks>
/// That network is not torchvision's resnet18: its last stage has three basic blocks ([2, 2, 2, 3], 22 convolutions),
/// and it was trained on BGR pixels in 0..255 minus a 224×224 mean image (<c>ResNetPreprocess.onnx</c>). The import
/// maps every convolution and batch norm in graph order onto the same topology, then folds the difference between
/// the package's input normalization (RGB in 0..1, <c>(x - mean) / std</c>) and the CNTK input into the stem:
/// the first convolution's input channels are reordered and scaled by <c>255·std</c>, and the constant offset
/// <c>Σ W·(255·mean − m)</c> it then lacks is absorbed by the first batch norm's running mean. The per-channel average
/// of the mean image stands in for the image itself so that any input size works; the fold is exact away from the
/// image border (zero padding differs where <c>255·mean ≠ m</c>).
/// </remarks>
internal static class MLNetResNet18Weights
{
    /// <summary>Environment variable naming ResNet18.onnx explicitly.</summary>
    public const string OnnxPathEnvironmentVariable = "MLNET_FASTAI_RESNET18_ONNX";

    private const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The version this package was built against (Directory.Packages.props, stamped in by the build).</summary>
    private static readonly string PackageVersion = typeof(MLNetResNet18Weights).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ResNet18WeightsPackageVersion").Value!;

    /// <summary>Finds ResNet18.onnx beside the application, through the environment variable, or in the NuGet cache.</summary>
    /// <exception cref="FileNotFoundException">Says where it looked and how to provide it.</exception>
    public static string LocateOnnx(string fileName = "ResNet18.onnx", string folder = "ResNet18Onnx")
    {
        var candidates = new List<string>();
        string? configured = Environment.GetEnvironmentVariable(OnnxPathEnvironmentVariable);
        if (!string.IsNullOrEmpty(configured))
            candidates.Add(fileName == "ResNet18.onnx" ? configured : Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(configured)!)!, folder, fileName));
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "DnnImageModels", folder, fileName));
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        candidates.Add(Path.Combine(packages, PackageId.ToLowerInvariant(), PackageVersion, "tools", "DnnImageModels", folder, fileName));
        return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            $"The pretrained ResNet-18 weights ({fileName}) were not found. Looked in: {string.Join("; ", candidates)}. " +
            $"Reference the NuGet package {PackageId} {PackageVersion} (MLNet.FastAi brings it), " +
            $"or set {OnnxPathEnvironmentVariable} to the file.", fileName);
    }

    /// <summary>
    /// The per-channel averages of the CNTK mean image, in RGB order and 0..255 units (read from ResNetPreprocess.onnx).
    /// </summary>
    public static float[] ChannelMeansRgb(string? preprocessPath = null)
    {
        var model = OnnxModelReader.Read(preprocessPath ?? LocateOnnx("ResNetPreprocess.onnx", "ResNetPrepOnnx"));
        var mean = model.Graph.Initializer.FirstOrDefault(t => t.Name == "MeanImage" && t.DataType == OnnxDataType.Float && t.Dims.Count == 4 && t.Dims[1] == 3)
            ?? throw new InvalidDataException("ResNetPreprocess.onnx has no 1×3×H×W 'MeanImage' tensor.");
        int plane = (int)(mean.Dims[2] * mean.Dims[3]);
        float[] values = OnnxTensor.Floats(mean);
        var bgr = Enumerable.Range(0, 3).Select(c => (float)values.Skip(c * plane).Take(plane).Average(v => (double)v)).ToArray();
        return new[] { bgr[2], bgr[1], bgr[0] };
    }

    /// <summary>
    /// Loads the weights into <paramref name="body"/> (architecture ResNet18Cntk for all of them, or ResNet18, which
    /// drops the third block of the last stage) and folds <paramref name="stats"/> into the stem.
    /// </summary>
    public static void Load(ResNetBody body, NormalizationStats stats, string? onnxPath = null, string? preprocessPath = null)
    {
        stats.Validate();
        var arch = body.Architecture;
        bool full = arch.BlocksPerStage.SequenceEqual(ResNetArchitecture.ResNet18Cntk.BlocksPerStage);
        bool trimmed = arch.BlocksPerStage.SequenceEqual(ResNetArchitecture.ResNet18.BlocksPerStage);
        if (arch.Block != ResidualBlockKind.Basic || !(full || trimmed))
            throw new ArgumentException($"ML.NET's ResNet-18 weights fit resnet18-cntk ([2, 2, 2, 3]) or resnet18 ([2, 2, 2, 2]), not {arch}.");

        string path = onnxPath ?? LocateOnnx();
        var pairs = ConvBatchNormPairs(OnnxModelReader.Read(path), path);
        var targets = TargetsInGraphOrder(ResNetArchitecture.ResNet18Cntk.BlocksPerStage);
        if (pairs.Count != targets.Count)
            throw new InvalidDataException($"'{path}' has {pairs.Count} convolutions; ML.NET's ResNet-18 has {targets.Count}. Is it another model?");

        var modules = ModulesInGraphOrder(body, trimmed);
        using var _ = no_grad();
        for (int i = 0; i < pairs.Count; i++)
        {
            var (stage, block, role) = targets[i];
            if (!modules.TryGetValue((stage, block, role), out var module)) continue; // the dropped block of resnet18
            var (convW, bnScale, bnBias, bnMean, bnVar, eps) = pairs[i];
            CopyChecked(module.Conv.weight, convW, $"{path}: convolution {i} ({Describe(targets[i])})");
            CopyChecked(module.Norm.weight, bnScale, $"{path}: batch norm {i} scale");
            CopyChecked(module.Norm.bias!, bnBias, $"{path}: batch norm {i} bias");
            CopyChecked(module.Norm.running_mean!, bnMean, $"{path}: batch norm {i} mean");
            CopyChecked(module.Norm.running_var!, bnVar, $"{path}: batch norm {i} variance");
            module.Norm.eps = eps;
        }
        FoldInputNormalization(body, stats, ChannelMeansRgb(preprocessPath));
    }

    /// <summary>Rewrites the stem so that inputs normalized with <paramref name="stats"/> give the CNTK network's activations.</summary>
    internal static void FoldInputNormalization(ResNetBody body, NormalizationStats stats, float[] cntkMeansRgb)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = body.StemConv.weight;                   // [64, 3, 7, 7], input channels in BGR order
        var rgbWeight = weight.flip(1);                      // now R, G, B
        var scale = tensor(Enumerable.Range(0, 3).Select(c => 255f * stats.StdOf(c)).ToArray()).reshape(1, 3, 1, 1);
        var offset = tensor(Enumerable.Range(0, 3).Select(c => 255f * stats.MeanOf(c) - cntkMeansRgb[c]).ToArray()).reshape(1, 3, 1, 1);
        var constantResponse = (rgbWeight * offset).sum(new long[] { 1, 2, 3 });
        weight.copy_(rgbWeight * scale);
        body.StemNorm.running_mean!.sub_(constantResponse);
    }

    private static void CopyChecked(Tensor target, TensorProto source, string what)
    {
        if (!source.Dims.SequenceEqual(target.shape))
            throw new InvalidDataException($"{what}: tensor '{source.Name}' has shape [{string.Join(", ", source.Dims)}] but the model expects [{string.Join(", ", target.shape)}].");
        target.copy_(tensor(OnnxTensor.Floats(source)).reshape(source.Dims.ToArray()));
    }

    private static List<(TensorProto W, TensorProto Scale, TensorProto Bias, TensorProto Mean, TensorProto Var, float Eps)> ConvBatchNormPairs(ModelProto model, string path)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        TensorProto Init(string name) => initializers.TryGetValue(name, out var t) && t.DataType == OnnxDataType.Float
            ? t : throw new InvalidDataException($"'{path}' has no float initializer '{name}'.");
        var byInput = model.Graph.Node.Where(n => n.OpType == "BatchNormalization").ToDictionary(n => n.Input[0]);
        var pairs = new List<(TensorProto, TensorProto, TensorProto, TensorProto, TensorProto, float)>();
        foreach (var conv in model.Graph.Node.Where(n => n.OpType == "Conv"))
        {
            if (conv.Input.Count > 2) throw new InvalidDataException($"'{path}': convolution '{conv.Name}' has a bias; ResNet convolutions have none.");
            if (!byInput.TryGetValue(conv.Output[0], out var bn))
                throw new InvalidDataException($"'{path}': convolution '{conv.Name}' is not followed by a batch norm.");
            float eps = OnnxAttribute.Find(bn, "epsilon")?.F ?? 1e-5f;
            pairs.Add((Init(conv.Input[1]), Init(bn.Input[1]), Init(bn.Input[2]), Init(bn.Input[3]), Init(bn.Input[4]), eps));
        }
        return pairs;
    }

    /// <summary>Where each convolution sits, in the order CNTK wrote them: the projection shortcut before its block's main path.</summary>
    private static List<(int Stage, int Block, int Role)> TargetsInGraphOrder(IReadOnlyList<int> blocksPerStage)
    {
        var order = new List<(int, int, int)> { (-1, 0, 0) };
        for (int s = 0; s < 4; s++)
            for (int b = 0; b < blocksPerStage[s]; b++)
            {
                if (s > 0 && b == 0) order.Add((s, b, -1));
                order.Add((s, b, 0));
                order.Add((s, b, 1));
            }
        return order;
    }

    private static Dictionary<(int, int, int), (Conv2d Conv, BatchNorm2d Norm)> ModulesInGraphOrder(ResNetBody body, bool trimmed)
    {
        var map = new Dictionary<(int, int, int), (Conv2d, BatchNorm2d)> { [(-1, 0, 0)] = (body.StemConv, body.StemNorm) };
        for (int s = 0; s < 4; s++)
        {
            var blocks = body.Stages[s].children().Cast<ResidualBlock>().ToList();
            for (int b = 0; b < blocks.Count; b++)
            {
                if (blocks[b].Shortcut is { } shortcut) map[(s, b, -1)] = shortcut;
                for (int r = 0; r < blocks[b].MainPath.Count; r++)
                    map[(s, b, r)] = (blocks[b].MainPath[r].Conv, blocks[b].MainPath[r].Norm);
            }
        }
        return map;
    }

    private static string Describe((int Stage, int Block, int Role) t) =>
        t.Stage < 0 ? "stem" : $"layer{t.Stage + 1}.{t.Block}.{(t.Role < 0 ? "downsample" : "conv" + (t.Role + 1))}";
}
