using MLNet.FastAi.Internal.Zip;

namespace Microsoft.ML;

/// <summary>
/// <c>mlContext.Model.LoadChecked(path, out schema)</c>: <c>mlContext.Model.Load</c> for model zips that may have been
/// damaged in storage or transfer. (In the <c>Microsoft.ML</c> namespace, beside ML.NET's own catalog.)
/// </summary>
public static class CheckedModelLoading
{
    /// <summary>
    /// Loads an ML.NET model zip after checking every entry against the CRC-32 the zip stores, and turns every
    /// failure into an error that names the file.
    /// </summary>
    /// <remarks>
    /// ML.NET's own <c>Load</c> does not check CRCs: a byte flipped inside a deflated entry can still inflate, and then
    /// the model loads and scores differently, or fails deep inside ONNX Runtime with a message that names neither the
    /// file nor the damage. The check reads the whole file once more (about 0.1 s for a 44 MB ResNet-18 zip). Works for
    /// any ML.NET model zip, not only this package's; the loaded model needs no reference to this package.
    /// </remarks>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="path">The .zip written by <c>mlContext.Model.Save</c>.</param>
    /// <param name="inputSchema">The schema the model was saved with (as <c>Load</c> returns it).</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not a zip, is truncated, fails a CRC check (the entry is named), or is a zip ML.NET cannot load as a
    /// model; the message names the file and the original error is the inner exception.
    /// </exception>
    public static ITransformer LoadChecked(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"ML.NET model '{full}' not found.", full);
        string what = $"ML.NET model '{full}'";
        VerifyEntries(full, what);
        try
        {
            return catalog.Load(full, out inputSchema);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            // ML.NET reports a zip of another kind, a component whose assembly is not loaded and an ONNX model ONNX
            // Runtime rejects alike, as exceptions that do not name the file.
            throw new InvalidDataException($"{what} is intact as a zip but ML.NET cannot load it as a model: {e.GetBaseException().Message} " +
                                           "(Was it written by mlContext.Model.Save, and does this app reference the packages of all its components?)", e);
        }
    }

    private static void VerifyEntries(string path, string what)
    {
        using (var zip = CheckedZip.OpenRead(path, what))
        {
            if (zip.Entries.Count == 0) throw new InvalidDataException($"{what} is an empty zip, not an ML.NET model.");
            var buffer = new byte[1 << 16];
            foreach (var entry in zip.Entries)
            {
                try
                {
                    using var stream = CrcCheckingStream.Open(entry);
                    while (stream.Read(buffer, 0, buffer.Length) > 0) { }
                }
                catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
                {
                    throw new InvalidDataException($"{what} is damaged: entry '{entry.FullName}' could not be read intact ({e.Message}).", e);
                }
            }
        }
    }
}
