using System.Globalization;
using System.Text.RegularExpressions;

namespace MLNet.FastAi.Cli.Tests;

/// <summary>
/// Trains once, with the real command line, on a slice of the MNIST sample (digits 0-3: 40 training and 10 test
/// images each; a fifth of the training images held out for validation, the test images kept apart and scored after
/// training), asking for every output; the end-to-end tests then evaluate, predict, export and interpret that model.
/// </summary>
public sealed class TrainedModelFixture : IDisposable
{
    public static readonly string[] Digits = ["0", "1", "2", "3"];

    private readonly TemporaryFolder _folder = new();

    public TrainedModelFixture()
    {
        Data = TestData.MnistSlice(_folder["mnist"], [0, 1, 2, 3], trainPerDigit: 40, testPerDigit: 10);
        Train = Cli.Run("train", Data, "--train", "training", "--valid-pct", "0.2", "--test", "testing",
            "--epochs", "1", "--freeze-epochs", "1", "--base-lr", "0.01", "--batch-size", "16", "--seed", "1", "--early-stopping", "3",
            "--out", ModelZip, "--onnx", Onnx, "--checkpoint", _folder["checkpoints/mnist"], "--report", Report, "--tensorboard", TensorBoard);
    }

    /// <summary>The dataset folder: training/ and testing/, one subfolder per digit.</summary>
    public string Data { get; }

    public string Testing => Path.Combine(Data, "testing");

    public CliResult Train { get; }

    public string ModelZip => _folder["out/model.zip"];

    public string Onnx => _folder["out/model.onnx"];

    public string Checkpoint => _folder["checkpoints/mnist.ckpt"];

    public string Report => _folder["out/report.html"];

    public string TensorBoard => _folder["runs"];

    /// <summary>A new folder for one test's outputs.</summary>
    public string NewFolder(string name) => Directory.CreateDirectory(_folder[Path.Combine("tests", name)]).FullName;

    /// <summary>The number printed after <paramref name="label"/>, e.g. "Accuracy: 0.8250".</summary>
    public static double NumberAfter(string output, string label)
    {
        var match = Regex.Match(output, Regex.Escape(label) + @"\s*([0-9.]+)");
        Assert.True(match.Success, $"'{label}' is not in the output:\n{output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public void Dispose() => _folder.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TrainedModelCollection : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "trained model";
}
