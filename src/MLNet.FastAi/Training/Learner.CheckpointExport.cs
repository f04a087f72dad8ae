using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

public sealed partial class Learner
{
    /// <summary>
    /// Exports a checkpoint written by <see cref="Save"/> to ONNX, as <see cref="ExportOnnx"/> exports a live learner,
    /// without the data it was trained on: the architecture, classes, image size and normalization are read from the
    /// checkpoint itself. Returns the ONNX file's full path.
    /// </summary>
    /// <param name="checkpointPath">A <c>.ckpt</c> file written by <see cref="Save"/>.</param>
    /// <param name="onnxPath">The .onnx file to write (atomically); its folder is created when missing.</param>
    /// <exception cref="FileNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint of this package, naming what is wrong.</exception>
    public static string ExportOnnxFromCheckpoint(string checkpointPath, string onnxPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(checkpointPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxPath);
        string path = Path.GetFullPath(checkpointPath);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' not found.", path);
        string what = $"Checkpoint '{path}'";
        TorchRuntime.EnsureInitialized();
        var (zip, meta) = OpenCheckpoint(path, what);
        using (zip)
        {
            var (architecture, pipeline, normalization) = ModelDefinition(meta, what);
            var weights = ReadEntry(zip, "model.bin", what, s => TorchSharpStateDict.Read(s, what + " (model.bin)"));
            try
            {
                using var model = new CnnModel(architecture, meta.Classes.Count);
                StateDictCopier.Load(model, weights, what);
                CnnOnnxExport.Save(model, pipeline, normalization, meta.Classes, onnxPath);
            }
            finally
            {
                foreach (var t in weights.Values) t.Dispose();
            }
        }
        return Path.GetFullPath(onnxPath);
    }

    /// <summary>The network shape and input definition a checkpoint's metadata describes, checked.</summary>
    private static (ResNetArchitecture, ImagePipeline, NormalizationStats) ModelDefinition(CheckpointMetadata meta, string what)
    {
        ResNetArchitecture architecture;
        try { architecture = ResNetArchitecture.FromName(meta.Architecture); }
        catch (ArgumentException e) { throw new InvalidDataException($"{what}: {e.Message}", e); }
        if (!architecture.BlocksPerStage.SequenceEqual(meta.BlocksPerStage))
            throw new InvalidDataException($"{what} names {meta.Architecture} but holds blocks [{string.Join(", ", meta.BlocksPerStage)}].");
        if (meta.Classes.Count < 2)
            throw new InvalidDataException($"{what} lists {meta.Classes.Count} classes; a classifier has at least two.");
        if (!Enum.TryParse<ResizeMethod>(meta.Resize, out var resize))
            throw new InvalidDataException($"{what} has an unknown resize method '{meta.Resize}'.");
        var pipeline = new ImagePipeline(meta.ImageWidth, meta.ImageHeight, resize);
        var normalization = new NormalizationStats(meta.NormalizationMean, meta.NormalizationStd);
        try
        {
            pipeline.Validate();
            normalization.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{what} has unusable metadata: {e.Message}", e);
        }
        return (architecture, pipeline, normalization);
    }
}
