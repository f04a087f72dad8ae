using MLNet.FastAi.Data.Download;
using MLNet.FastAi.Runtime;

namespace MLNet.FastAi.Examples;

/// <summary>The options both MNIST examples share.</summary>
internal sealed record ExampleArguments(string DataFolder, string OutputFolder, ComputeDevice Device, int Epochs, int BatchSize)
{
    public const string Usage = """
        Options:
          --full            download fastai's full MNIST (URLs.MNIST, 70,000 PNGs) into ~/.fastai and use it
          --data <folder>   any folder with training/<class>/ and testing/<class>/ images
          --out <folder>    where pictures, logs and models go (default: output)
          --device <d>      auto (default), cpu or cuda
          --epochs <n>      unfrozen epochs of fine_tune (default 2)
          --batch-size <n>  batch size (default 64 on the sample, 128 on full MNIST)
        """;

    /// <summary>The repository's real MNIST sample: 1,200 training and 300 test digits.</summary>
    public static string SampleFolder => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "data", "mnist_sample"));

    public static ExampleArguments Parse(string[] args)
    {
        string? data = null, output = "output";
        var device = ComputeDevice.Auto;
        int epochs = 2;
        int? batch = null;
        bool full = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            switch (args[i])
            {
                case "--full": full = true; break;
                case "--data": data = Next(); break;
                case "--out": output = Next(); break;
                case "--device": device = Enum.Parse<ComputeDevice>(Next(), ignoreCase: true); break;
                case "--epochs": epochs = int.Parse(Next()); break;
                case "--batch-size": batch = int.Parse(Next()); break;
                case "--help" or "-h": Console.WriteLine(Usage); Environment.Exit(0); break;
                default: throw new ArgumentException($"Unknown option '{args[i]}'.\n{Usage}");
            }
        }
        if (full) data = UntarData.Get(FastAiUrls.Mnist, progress: new ConsoleProgressBar());
        data ??= SampleFolder;
        if (!Directory.Exists(data)) throw new DirectoryNotFoundException($"Data folder '{data}' not found.");
        return new ExampleArguments(data, Path.GetFullPath(output!), device, epochs, batch ?? (full ? 128 : 64));
    }
}
