using System.IO.Compression;
using Microsoft.ML;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Onnx;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Hardening;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Tests.Training.TensorBoard;
using MLNet.FastAi.Training;
using MLNet.FastAi.Interpretation.TensorBoard;
using MLNet.FastAi.Vision.Pretrained;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Formats;

/// <summary>
/// The files in Formats/Fixtures, and how they were made: one of each format the package writes (an ONNX model, a
/// stock ML.NET zip, a TensorBoard event file, a learner checkpoint), written by the package as it was when its
/// hand-written encoders were replaced, so that <see cref="FormatFixtureTests"/> proves files from users' disks still
/// read the same. Rewrite them only on purpose:
/// <c>dotnet MLNet.FastAi.Tests.dll write-format-fixtures &lt;folder&gt;</c>.
/// </summary>
internal static class FormatFixtures
{
    public const string OnnxFile = "tiny-classifier.onnx";
    public const string ZipFile = "tiny-classifier.zip";
    public const string EventFile = "tiny.tfevents";
    public const string CheckpointFile = "tiny-resnet.ckpt.gz";

    public static readonly DateTimeOffset EventStart = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_250);

    /// <summary>The folder of the committed fixtures (beside the test project's sources).</summary>
    public static string Folder => Path.Combine(Packaging.ProcessRunner.RepositoryRoot, "tests", "MLNet.FastAi.Tests", "Formats", "Fixtures");

    public static int Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var onnx = TinyClassifierOnnx.Build();
        OnnxModelWriter.Write(onnx, Path.Combine(folder, OnnxFile));
        WriteZip(OnnxModelWriter.Write(onnx), Path.Combine(folder, ZipFile));
        WriteEvents(Path.Combine(folder, EventFile));
        WriteCheckpoint(Path.Combine(folder, CheckpointFile));
        return 0;
    }

    /// <summary>The scoring chain's input: one text column of image paths.</summary>
    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    // Squish, the default when the fixtures were written (then ImageAnalytics' Fill): the zip fixture stores it.
    public static ImagePipeline Pipeline => new(TinyClassifierOnnx.Size, TinyClassifierOnnx.Size, ResizeMethod.Squish);

    private static void WriteZip(byte[] onnx, string path)
    {
        var context = new MLContext(seed: 1);
        var input = context.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = "unused.png" } });
        using var chain = StockScoringChain.Fit(context, input, nameof(ImageRow.ImagePath), "", Pipeline, onnx, TinyClassifierOnnx.Classes);
        context.Model.Save(chain, input.Schema, path);
    }

    /// <summary>A tiny PNG logged as an image (3×2 RGB, pixels from a formula).</summary>
    public static byte[] EventImage => HandMadeImages.RgbPng(3, 2, (x, y) => ((byte)(40 * x), (byte)(100 * y), 7));

    public const string EventText = "**accuracy** 0.9 ✓";

    private static void WriteEvents(string path)
    {
        var clock = new ManualTimeProvider(EventStart);
        string written;
        using (var writer = new TensorBoardWriter(Path.GetDirectoryName(path)!, ".fixture", TimeSpan.FromHours(1), clock))
        {
            writer.AddScalar(TensorBoardTags.TrainLoss, 1.25f, 0);
            clock.Now = EventStart.AddSeconds(1.5);
            writer.AddScalars([(TensorBoardTags.LearningRate(0), 1e-3f), (TensorBoardTags.Momentum(0), 0.95f)], 1);
            writer.AddImage("sample", EventImage, 2);
            writer.AddText("notes", EventText, 3);
            writer.AddScalar(TensorBoardTags.ValidLoss, 0f, 4);
            written = writer.FilePath;
        }
        File.Move(written, path, overwrite: true);
    }

    /// <summary>Classes and image size of the checkpoint's learner (a tiny ResNet on ten digit classes).</summary>
    public static ImageDataLoaders CheckpointData() =>
        ImageDataLoaders.FromSplits(MnistSample.Take("training", 1), MnistSample.Take("training", 1, skip: 1),
            options: new ImageDataOptions { ImageSize = 16, BatchSize = 8, Seed = 3, Normalization = NormalizationStats.Mnist });

    public static VisionLearnerOptions CheckpointOptions(string models) => new()
    {
        Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false,
        Device = ComputeDevice.Cpu, Seed = 5, ModelDirectory = models,
    };

    /// <summary>
    /// The value every float of the checkpoint's state holds: a pattern with a period of 251 values, so the 20 MB of
    /// stored weights gzip to a small file, and distinct from anything an initialization draws.
    /// </summary>
    public static Tensor Pattern(long[] shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        return arange(count, dtype: ScalarType.Float32).remainder(251).mul(0.004f).add(0.5f).reshape(shape);
    }

    private static void WriteCheckpoint(string path)
    {
        TorchRuntime.EnsureInitialized();
        string models = Path.Combine(Path.GetTempPath(), "fastai-fixture-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = CheckpointData();
            using var learner = Learner.Vision(data, CheckpointOptions(models));
            using (no_grad())
                foreach (var (_, value) in learner.Model.state_dict().Where(kv => kv.Value.dtype == ScalarType.Float32))
                    value.copy_(Pattern(value.shape));
            string checkpoint = learner.Save("tiny", withOptimizer: true);
            using var source = File.OpenRead(checkpoint);
            using var target = new GZipStream(File.Create(path), CompressionLevel.SmallestSize);
            source.CopyTo(target);
        }
        finally
        {
            if (Directory.Exists(models)) Directory.Delete(models, recursive: true);
        }
    }

    /// <summary>Unpacks the checkpoint fixture into <paramref name="folder"/>; returns its path.</summary>
    public static string UnpackCheckpoint(string folder)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "tiny.ckpt");
        using var source = new GZipStream(File.OpenRead(Path.Combine(Folder, CheckpointFile)), CompressionMode.Decompress);
        using var target = File.Create(path);
        source.CopyTo(target);
        return path;
    }
}
