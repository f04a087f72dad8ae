namespace MLNet.FastAi.Scoring;

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
