namespace MLNet.FastAi.Data.Sources;

/// <summary>The three forms an ML.NET pipeline hands an image to a trainer in.</summary>
internal enum ImageColumnKind
{
    /// <summary>Text: image file paths (decoded by ImageAnalytics' LoadImages).</summary>
    Path,

    /// <summary><c>MLImage</c>: images already loaded by <c>LoadImages</c>, resized by <c>ResizeImages</c> or not.</summary>
    Image,

    /// <summary>A vector of bytes: encoded files, as <c>LoadRawImageBytes</c> makes them.</summary>
    EncodedBytes,
}

/// <summary>How the forms read in sentences.</summary>
internal static class ImageColumnKinds
{
    /// <summary>How the column form reads in a sentence.</summary>
    public static string Describe(this ImageColumnKind kind) => kind switch
    {
        ImageColumnKind.Path => "image file paths",
        ImageColumnKind.Image => "loaded images (MLImage)",
        _ => "encoded image bytes",
    };
}
