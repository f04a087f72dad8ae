using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>Checks on input paths, failing with input errors (exit code 2) that name the path.</summary>
internal static class InputPaths
{
    /// <summary>The full path of an existing file.</summary>
    public static string RequireFile(string path, string what)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw CliException.Input($"The {what} '{path}' is a folder; a file is needed.");
        if (!File.Exists(full)) throw CliException.Input($"The {what} '{path}' does not exist.");
        return full;
    }

    /// <summary>
    /// Image files named by <paramref name="paths"/>: files as given, folders searched recursively for images (by
    /// extension, hidden entries skipped), each in sorted order.
    /// </summary>
    public static List<string> ExpandImages(IEnumerable<string> paths)
    {
        var images = new List<string>();
        foreach (var path in paths)
        {
            string full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                int ignored = 0;
                var found = ImageFiles.Recursive(full, ref ignored);
                if (found.Count == 0) throw CliException.Input($"The folder '{path}' holds no images (looked for {string.Join(", ", ImageFiles.Extensions.Order())}).");
                images.AddRange(found);
            }
            else if (File.Exists(full)) images.Add(full);
            else throw CliException.Input($"The image '{path}' does not exist.");
        }
        return images;
    }

    /// <summary>
    /// Fails, naming the file, on the first image that cannot be decoded, before ML.NET's image loader meets it halfway
    /// through scoring: the checks training applies (<see cref="ImageHeaders"/>: format, the pixel limit against
    /// decompression bombs, completeness), reading each PNG and JPEG through once and decoding other formats once.
    /// </summary>
    public static void RequireDecodableImages(IEnumerable<string> images, long? maxPixels)
    {
        foreach (var image in images)
            if (ImageHeaders.Read(image, maxPixels ?? ImageDataOptions.DefaultMaxImagePixels).Problem is { } problem)
                throw CliException.Input(ImageHeaders.Refusal($"'{image}'", problem));
    }

    /// <summary>The full path for an output file, creating its folder.</summary>
    public static string PrepareOutputFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw CliException.Input($"The output file '{path}' is an existing folder.");
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }

    /// <summary>The full path of an output folder, created when missing.</summary>
    public static string PrepareOutputDirectory(string path)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full)) throw CliException.Input($"The output folder '{path}' is an existing file.");
        Directory.CreateDirectory(full);
        return full;
    }

    /// <summary>A path relative to the working folder when it lies below it, for shorter output.</summary>
    public static string Display(string fullPath)
    {
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, fullPath);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? fullPath : relative;
    }
}
