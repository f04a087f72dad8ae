using Microsoft.ML;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Bench.Training;

/// <summary>
/// What a fitted <c>FastAiCnn</c> model holds: resident memory after <c>Fit</c> (and after the model scored the
/// validation images) with the training state released, as the estimator does by default, or kept
/// (<c>KeepTrainingState</c>, what every fit did before).
/// </summary>
internal static class EstimatorMemoryBench
{
    public static int Run(BenchArgs args, BenchReport report)
    {
        string folder = args.Required("folder");
        int size = args.Int("size", 224);
        int epochs = args.Int("epochs", 1);
        int batch = args.Int("batch", 64);
        bool keep = args.Flag("keep");
        args.RejectUnknown();
        foreach (var (name, value) in new (string, object)[] { ("folder", folder), ("size", size), ("epochs", epochs), ("batch", batch), ("keepTrainingState", keep) })
            report.Setting(name, value.ToString()!);
        TorchRuntime.EnsureInitialized();
        report.Setting("memoryRetention", MemoryRetention.Mode.ToString());
        report.PrintSettings();

        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromImageFolder(Path.Combine(folder, "train"));
        var valid = ml.Data.LoadFromImageFolder(Path.Combine(folder, "valid"));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var before = PeakMemorySampler.Read();
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(new FastAiCnnOptions
        {
            ImageSize = size, BatchSize = batch, Epochs = epochs, FreezeEpochs = 0, Device = ComputeDevice.Cpu, KeepTrainingState = keep,
            Cache = Data.ImageCacheMode.Memory,
        }).Fit(keys.Transform(train), keys.Transform(valid));
        Settle();
        var afterFit = PeakMemorySampler.Read();
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(keys.Transform(valid)));
        Settle();
        var afterScoring = PeakMemorySampler.Read();
        report.Figure("RssAnon before Fit", Mib(before.Anon), "MiB");
        report.Figure("RssAnon after Fit", Mib(afterFit.Anon), "MiB");
        report.Figure("RssAnon after scoring the validation images", Mib(afterScoring.Anon), "MiB");
        report.Figure("validation accuracy (stock scoring chain)", metrics.MicroAccuracy, "");
        return 0;
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static double Mib(long bytes) => bytes / 1048576.0;
}
