namespace MLNet.FastAi.Data;

/// <summary>How images are brought to the model's input size (fastai's <c>ResizeMethod</c>).</summary>
public enum ResizeMethod
{
    /// <summary>
    /// Scale to the target size without cropping or padding, for images that already have the target's proportions
    /// (within 1%), smoothly resampled. Images of other proportions are refused before anything is decoded: the only
    /// stretching resize in stock ML.NET (ImageAnalytics' <c>Fill</c>) samples nearest-neighbour, in training and in
    /// the saved model alike, which trains less accurate models than fastai's bilinear squish. The saved model crops
    /// the centre of such images (as <see cref="Crop"/>) if it meets them.
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
