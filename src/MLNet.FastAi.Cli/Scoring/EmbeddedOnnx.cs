using System.Buffers.Binary;
using System.IO.Compression;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Internal.Zip;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Cli.Scoring;

/// <summary>What a model file given to <c>export-onnx</c> is.</summary>
internal enum ModelFileKind
{
    /// <summary>Neither of the others.</summary>
    Unknown,
    /// <summary>A learner checkpoint (<c>Learner.Save</c>): a zip of meta.json, model.bin and optionally optimizer.bin.</summary>
    Checkpoint,
    /// <summary>An ML.NET model zip (<c>mlContext.Model.Save</c>): TransformerChain/Transform_NNN/... entries.</summary>
    MLNetZip,
}

/// <summary>
/// The ONNX model inside an ML.NET model zip. ML.NET's OnnxTransformer saves the model it runs as the entry
/// <c>TransformerChain/Transform_NNN/OnnxModel</c>: a 32-bit little-endian byte count followed by the ONNX file's
/// bytes (ML.NET's <c>BinaryWriter.WriteByteArray</c>), beside the transformer's <c>Model.key</c>.
/// </summary>
internal static class EmbeddedOnnx
{
    private const string EntryName = "OnnxModel";

    /// <summary>Tells checkpoints from ML.NET zips by their entries; anything else (including a non-zip) is <see cref="ModelFileKind.Unknown"/>.</summary>
    public static ModelFileKind KindOf(string path)
    {
        try
        {
            using var zip = CheckedZip.OpenRead(path, $"'{path}'");
            if (zip.GetEntry("meta.json") is not null && zip.GetEntry("model.bin") is not null) return ModelFileKind.Checkpoint;
            if (zip.Entries.Any(e => e.FullName.StartsWith("TransformerChain/", StringComparison.Ordinal))) return ModelFileKind.MLNetZip;
            return ModelFileKind.Unknown;
        }
        catch (InvalidDataException)
        {
            return ModelFileKind.Unknown;
        }
    }

    /// <summary>
    /// Writes the zip's one embedded ONNX model to <paramref name="onnxPath"/> (atomically) and returns its graph's
    /// inputs and outputs, e.g. "__FastAiPixels: Float [1, 3, 28, 28]".
    /// </summary>
    /// <exception cref="CliException">No embedded ONNX model, several, or a damaged one (input error).</exception>
    public static (IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs) Extract(string zipPath, string onnxPath)
    {
        byte[] onnx = Read(zipPath);
        MLNet.FastAi.Onnx.Proto.ModelProto model;
        try
        {
            model = OnnxModelReader.Read(onnx, $"The ONNX model inside '{zipPath}'");
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw CliException.Input($"The ONNX model inside '{zipPath}' is damaged: {e.Message}", e);
        }
        AtomicFile.WriteAllBytes(onnxPath, onnx);
        return (model.Graph.Input.Select(Describe).ToList(), model.Graph.Output.Select(Describe).ToList());
    }

    private static byte[] Read(string zipPath)
    {
        ZipArchive zip;
        try { zip = CheckedZip.OpenRead(zipPath, $"The ML.NET model '{zipPath}'"); }
        catch (InvalidDataException e) { throw CliException.Input(e.Message, e); }
        using (zip) return ReadOnnxEntry(zip, zipPath);
    }

    private static byte[] ReadOnnxEntry(ZipArchive zip, string zipPath)
    {
        var entries = zip.Entries
            .Where(e => e.FullName.StartsWith("TransformerChain/", StringComparison.Ordinal) && e.Name == EntryName)
            .ToList();
        if (entries.Count == 0)
            throw CliException.Input($"The ML.NET model '{zipPath}' holds no ONNX model (no OnnxTransformer); was it saved by 'mlnet-fastai train'?");
        if (entries.Count > 1)
            throw CliException.Input($"The ML.NET model '{zipPath}' holds {entries.Count} ONNX models ({string.Join(", ", entries.Select(e => e.FullName))}); this tool extracts one.");
        using var buffer = new MemoryStream();
        try
        {
            // Checked against the zip's CRC-32: damage inside deflated weights can still inflate and parse as ONNX.
            using var stream = CrcCheckingStream.Open(entries[0]);
            stream.CopyTo(buffer);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw CliException.Input($"The ML.NET model '{zipPath}' is damaged: its entry '{entries[0].FullName}' could not be read intact ({e.Message}).", e);
        }
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Length < sizeof(int) || BinaryPrimitives.ReadInt32LittleEndian(bytes) != bytes.Length - sizeof(int))
            throw CliException.Input($"The entry '{entries[0].FullName}' of '{zipPath}' is not a length-prefixed ONNX model; is the zip damaged?");
        return bytes[sizeof(int)..].ToArray();
    }

    private static string Describe(MLNet.FastAi.Onnx.Proto.ValueInfoProto value) => $"{value.Name}: {OnnxModelReader.Describe(value)}";
}
