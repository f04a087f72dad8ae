namespace MLNet.FastAi.Internal;

/// <summary>
/// Writes a file beside its destination first and then moves it over the destination, so a crash or a failed write
/// never leaves a truncated checkpoint, model, picture or report under the final name.
/// </summary>
internal static class AtomicFile
{
    public static string WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        var bytes = content.ToArray();
        return Write(path, stream => stream.Write(bytes));
    }

    public static string WriteAllText(string path, string content) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(content));

    /// <summary>
    /// Calls <paramref name="write"/> on a temporary file beside <paramref name="path"/>, then moves it into place.
    /// With <paramref name="durable"/> the data reaches the disk before the move, so that after a power cut the name
    /// holds the old file or the new one.
    /// </summary>
    /// <returns>The destination's full path.</returns>
    public static string Write(string path, Action<Stream> write, bool durable = false)
    {
        var fullPath = PrepareDestination(path);
        var temporary = TemporaryPathFor(fullPath);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                if (durable) stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        return fullPath;
    }

    /// <summary>
    /// <c>{path}.{process}.{thread}.tmp</c>: two threads saving to the same name each write their own file (the last
    /// move wins) instead of one deleting the other's, and a failed write is cleaned up by the thread that made it.
    /// </summary>
    internal static string TemporaryPathFor(string fullPath) =>
        $"{fullPath}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";

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

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
