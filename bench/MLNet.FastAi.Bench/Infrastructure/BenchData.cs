using MLNet.FastAi.Data;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>Opens a benchmark image folder with <see cref="ImageDataLoaders.FromFolder"/>, whatever its split names.</summary>
internal static class BenchData
{
    /// <summary>
    /// fastai's mnist_png layout (training/, testing/) or the train/ and valid/ layout; any other folder of class
    /// subfolders is split 80/20 with a fixed seed.
    /// </summary>
    public static ImageDataLoaders Load(string folder, int batchSize, int? imageSize = null, int seed = 42)
    {
        string root = Path.GetFullPath(folder);
        if (!Directory.Exists(root)) throw new UsageException($"The image folder '{root}' does not exist.");
        var options = new ImageDataOptions { BatchSize = batchSize, ImageSize = imageSize, Seed = seed };
        if (Directory.Exists(Path.Combine(root, "training")) && Directory.Exists(Path.Combine(root, "testing")))
            return ImageDataLoaders.FromFolder(root, train: "training", valid: "testing", options: options);
        if (Directory.Exists(Path.Combine(root, "train")) && Directory.Exists(Path.Combine(root, "valid")))
            return ImageDataLoaders.FromFolder(root, train: "train", valid: "valid", options: options);
        return ImageDataLoaders.FromFolder(Path.GetDirectoryName(root)!, train: Path.GetFileName(root), validPct: 0.2, options: options);
    }

    /// <summary>Every image the loaders hold: training then validation.</summary>
    public static IReadOnlyList<string> AllPaths(ImageDataLoaders data) => data.Train.Paths.Concat(data.Valid.Paths).ToList();
}
