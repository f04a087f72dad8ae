namespace MLNet.FastAi.Cli.Tests;

/// <summary>The committed MNIST sample (examples/data/mnist_sample) and small slices of it that train in seconds.</summary>
internal static class TestData
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string MnistSample => Path.Combine(RepositoryRoot, "examples", "data", "mnist_sample");

    /// <summary>
    /// Copies the first <paramref name="trainPerDigit"/> training and <paramref name="testPerDigit"/> testing images
    /// of each of <paramref name="digits"/> into <paramref name="folder"/>, keeping the training/ and testing/ layout.
    /// </summary>
    public static string MnistSlice(string folder, IEnumerable<int> digits, int trainPerDigit, int testPerDigit)
    {
        foreach (int digit in digits)
        {
            Copy("training", digit, trainPerDigit);
            Copy("testing", digit, testPerDigit);
        }
        return folder;

        void Copy(string split, int digit, int count)
        {
            string source = Path.Combine(MnistSample, split, digit.ToString());
            string target = Directory.CreateDirectory(Path.Combine(folder, split, digit.ToString())).FullName;
            foreach (var file in Directory.GetFiles(source, "*.png").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f))).Take(count))
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNet.FastAi.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No MLNet.FastAi.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder(string prefix = "mlnet-fastai-cli-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
