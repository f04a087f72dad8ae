using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

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

/// <summary>Which form a column type is, and how the forms read in sentences.</summary>
internal static class ImageColumnKinds
{
    /// <summary>The three forms in a sentence, for refusals of a column that is none of them.</summary>
    public const string Accepted = "image file paths (text), loaded images (MLImage, from LoadImages) or encoded image bytes (a byte vector, from LoadRawImageBytes)";

    /// <summary>The form of a column of <paramref name="type"/>; null when it holds none of the three.</summary>
    public static ImageColumnKind? Of(DataViewType type) => type switch
    {
        TextDataViewType => ImageColumnKind.Path,
        ImageDataViewType => ImageColumnKind.Image,
        VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Byte => ImageColumnKind.EncodedBytes,
        _ => null,
    };

    /// <summary>How the column form reads in a sentence.</summary>
    public static string Describe(this ImageColumnKind kind) => kind switch
    {
        ImageColumnKind.Path => "image file paths",
        ImageColumnKind.Image => "loaded images (MLImage)",
        _ => "encoded image bytes",
    };
}
