namespace MLNet.FastAi.Data;

/// <summary>How images are brought to the model's input size (fastai's <c>ResizeMethod</c>).</summary>
public enum ResizeMethod
{
    /// <summary>
    /// Stretch to the target size, ignoring aspect ratio (ML.NET's <c>ResizingKind.Fill</c>). ImageAnalytics samples it
    /// nearest-neighbour, in training and in the saved model alike, unlike fastai's bilinear squish: prefer
    /// <see cref="Crop"/> or <see cref="Pad"/> wherever images are resized.
    /// </summary>
    Squish,
    /// <summary>
    /// Scale to cover the target, then crop the centre (ML.NET's <c>ResizingKind.IsoCrop</c>), smoothly resampled: the
    /// default, as fastai's <c>Resize</c>.
    /// </summary>
    Crop,
    /// <summary>Scale to fit inside the target, then pad (ML.NET's <c>ResizingKind.IsoPad</c>), smoothly resampled.</summary>
    Pad,
}

/// <summary>What to do with an image file that cannot be decoded.</summary>
public enum BadImageHandling
{
    /// <summary>Stop with an error naming the file (the default: nothing is silently lost).</summary>
    Fail,
    /// <summary>Leave the file out, count it, and go on with the rest.</summary>
    Skip,
}
