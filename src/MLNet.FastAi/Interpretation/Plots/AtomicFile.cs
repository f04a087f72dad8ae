namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>Writes a file beside its destination first, so a crash never leaves a truncated PNG or report behind.</summary>
internal static class AtomicFile
{
    public static string WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        var fullPath = PrepareDestination(path);
        var temporary = TemporaryPathBeside(fullPath);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                stream.Write(content);
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        return fullPath;
    }

    public static string WriteAllText(string path, string content) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(content));

    private static string PrepareDestination(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException("The output path is empty.", nameof(path));
        var fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
            throw new ArgumentException($"The output path '{fullPath}' is a directory; give a file name.", nameof(path));
        var directory = Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        return fullPath;
    }

    private static string TemporaryPathBeside(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
