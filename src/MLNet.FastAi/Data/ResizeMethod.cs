namespace MLNet.FastAi.Data;

/// <summary>How images are brought to the model's input size (fastai's <c>ResizeMethod</c>).</summary>
public enum ResizeMethod
{
    /// <summary>Stretch to the target size, ignoring aspect ratio (ML.NET's <c>ResizingKind.Fill</c>).</summary>
    Squish,
    /// <summary>Scale to cover the target, then crop the centre (ML.NET's <c>ResizingKind.IsoCrop</c>).</summary>
    Crop,
    /// <summary>Scale to fit inside the target, then pad (ML.NET's <c>ResizingKind.IsoPad</c>).</summary>
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
