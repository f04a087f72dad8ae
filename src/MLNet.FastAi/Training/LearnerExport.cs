using static TorchSharp.torch;
using MLNet.FastAi.Vision.Pretrained;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data;
using Microsoft.ML;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Vision.Export;
using MLNet.FastAi.Scoring;

namespace MLNet.FastAi.Training;

/// <summary>
/// What a trained learner becomes outside training: an ONNX file, or a stock ML.NET model (a zip that loads without
/// this package) — from a live learner or from a checkpoint.
/// </summary>
public static class LearnerExport
{
    /// <summary>
    /// Exports the network, with its input normalization, to an ONNX file: input <c>pixels</c> [batch, 3, H, W] (RGB
    /// 0..255, as ImageAnalytics' ExtractPixels gives), outputs <c>Score</c>, <c>PredictedIndex</c> and
    /// <c>PredictedLabel</c>. Returns the file's path.
    /// </summary>
    /// <param name="learner">The trained learner.</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="int8">
    /// Quantize the body to int8 (ONNX QDQ, which ONNX Runtime runs with int8 kernels: about a quarter of the size, and
    /// faster on CPUs with int8 dot products): activation scales calibrated on training images, weights per channel.
    /// Refused, with the figures, when it loses more than one point of validation accuracy against float32 (and more
    /// than one image): an <see cref="Settings.OptionException"/> for <see cref="Settings.OptionKey.Int8"/>.
    /// </param>
    public static string ExportOnnx(this Learner learner, string path, bool int8 = false)
    {
        using var use = learner.Use(nameof(ExportOnnx));
        MemoryRetention.HandBackAfterTraining();
        if (!int8)
        {
            CnnOnnxExport.Save(learner.CnnModel, learner.Data.Pipeline, learner.Normalization, learner.Data.Classes, path);
            return Path.GetFullPath(path);
        }
        return AtomicFile.WriteAllBytes(path, Int8Network(learner, CnnOnnxSignature.Standalone));
    }

    /// <summary>
    /// The trained network as a stock ML.NET model over a text column of image paths: decode, ONNX network,
    /// <c>Score</c> and <c>PredictedLabel</c>. Save it with <c>mlContext.Model.Save</c>; it loads without this package.
    /// Dispose it when done: ML.NET's ONNX transformer keeps a temporary copy of the network on disk until then.
    /// </summary>
    /// <param name="learner">The trained learner.</param>
    /// <param name="context">The ML.NET context.</param>
    /// <param name="imageColumnName">The input column of image paths.</param>
    /// <param name="imageFolder">Folder that relative paths start from.</param>
    /// <param name="int8">Score with the int8 network (see <see cref="ExportOnnx"/>).</param>
    public static ITransformer ToMLNetModel(this Learner learner, MLContext context, string imageColumnName = "ImagePath", string imageFolder = "", bool int8 = false)
    {
        using var use = learner.Use(nameof(ToMLNetModel));
        MemoryRetention.HandBackAfterTraining();
        var input = EmptyInput(context, imageColumnName);
        if (!int8)
            return StockScoringChain.Fit(context, input, imageColumnName, imageFolder, learner.Data.Pipeline, learner.CnnModel, learner.Normalization, learner.Data.Classes);
        return StockScoringChain.Fit(context, input, imageColumnName, imageFolder, learner.Data.Pipeline, Int8Network(learner, CnnOnnxSignature.MLNetRow), learner.Data.Classes);
    }

    /// <summary>The int8 network, its figures logged; refused (nothing written) when it loses too much accuracy.</summary>
    private static byte[] Int8Network(Learner learner, CnnOnnxSignature signature)
    {
        var (onnx, report, reused) = Int8Export.Build(learner, signature);
        if (!reused) learner.Data.Log(report.ToString());
        return onnx ?? throw Int8Export.Refusal(report);
    }

    /// <summary>Saves <see cref="ToMLNetModel"/> as an ML.NET zip (written aside, then moved into place); returns its path.</summary>
    /// <remarks>
    /// ML.NET does not check the zip's CRCs when it loads a model: a byte damaged in storage or transfer inside the
    /// network's weights can load without error and score differently. Load with
    /// <see cref="Microsoft.ML.CheckedModelLoading.LoadChecked"/> (<c>mlContext.Model.LoadChecked</c>), which checks
    /// every entry first. (Checkpoints written by <see cref="LearnerCheckpoints.Save"/> are always checked when loaded.)
    /// </remarks>
    /// <param name="learner">The trained learner.</param>
    /// <param name="context">The ML.NET context.</param>
    /// <param name="path">The zip to write.</param>
    /// <param name="imageColumnName">The input column of image paths.</param>
    /// <param name="imageFolder">Folder that relative paths start from.</param>
    /// <param name="int8">Save the int8 network (see <see cref="ExportOnnx"/>); the zip stays stock ML.NET.</param>
    public static string SaveMLNetModel(this Learner learner, MLContext context, string path, string imageColumnName = "ImagePath", string imageFolder = "", bool int8 = false)
    {
        using var use = learner.Use(nameof(SaveMLNetModel));
        var model = learner.ToMLNetModel(context, imageColumnName, imageFolder, int8);
        try
        {
            return AtomicFile.Write(path, file => context.Model.Save(model, EmptyInput(context, imageColumnName).Schema, file), durable: true);
        }
        finally
        {
            // ML.NET's ONNX transformer keeps a temporary copy of the network (tens of MB) until it is disposed.
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>An empty data view with one text column of image paths: the input schema of the saved model.</summary>
    private static IDataView EmptyInput(MLContext context, string imageColumnName)
    {
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(PathOnly));
        definition[0].ColumnName = imageColumnName;
        return context.Data.LoadFromEnumerable(Array.Empty<PathOnly>(), definition);
    }

    private sealed class PathOnly
    {
        public string ImagePath { get; set; } = "";
    }

    /// <summary>
    /// Exports a checkpoint written by <see cref="LearnerCheckpoints.Save"/> to ONNX, as <see cref="ExportOnnx"/> exports a live learner,
    /// without the data it was trained on: the architecture, classes, image size and normalization are read from the
    /// checkpoint itself. Returns the ONNX file's full path.
    /// </summary>
    /// <param name="checkpointPath">A <c>.ckpt</c> file written by <see cref="LearnerCheckpoints.Save"/>.</param>
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
        var (zip, meta) = LearnerCheckpoints.OpenCheckpoint(path, what);
        using (zip)
        {
            var (architecture, pipeline, normalization) = ModelDefinition(meta, what);
            var weights = LearnerCheckpoints.ReadEntry(zip, "model.bin", what, s => TorchSharpStateDict.Read(s, what + " (model.bin)"));
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
    private static (ResNetArchitecture, ImagePipeline, NormalizationStats) ModelDefinition(LearnerCheckpoints.CheckpointMetadata meta, string what)
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
