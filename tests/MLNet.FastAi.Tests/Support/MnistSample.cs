namespace MLNet.FastAi.Tests.Support;

/// <summary>The committed real-MNIST sample (examples/data/mnist_sample): training/&lt;digit&gt;/*.png (120 each), testing/&lt;digit&gt;/*.png (30 each).</summary>
internal static class MnistSample
{
    public static readonly string Folder = Find();

    public static string Training => Path.Combine(Folder, "training");

    public static string Testing => Path.Combine(Folder, "testing");

    public static readonly string[] Digits = Enumerable.Range(0, 10).Select(d => d.ToString()).ToArray();

    /// <summary>The first <paramref name="perDigit"/> images (by file number) of each digit of a split, with their labels.</summary>
    public static List<(string Path, string Label)> Take(string split, int perDigit, int skip = 0) =>
        Digits.SelectMany(d => Directory.GetFiles(Path.Combine(Folder, split, d), "*.png")
                .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)))
                .Skip(skip).Take(perDigit)
                .Select(f => (f, d)))
            .ToList();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", "data", "mnist_sample");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"examples/data/mnist_sample not found above {AppContext.BaseDirectory}.");
    }
}
