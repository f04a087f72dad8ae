namespace MLNet.FastAi.Data;

/// <summary>
/// A disk cache that was asked for (<see cref="ImageCacheMode.Disk"/>) cannot be used as configured: its folder cannot
/// be written, or its disk lacks room for the decoded images. Thrown before anything is decoded; the message names
/// the options to change: <see cref="ImageDataOptions.CacheFolder"/>, or another <see cref="ImageDataOptions.Cache"/>.
/// </summary>
public sealed class ImageCacheUnavailableException : IOException
{
    /// <summary>Creates the exception with the message to show.</summary>
    public ImageCacheUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with the message to show and the exception it restates.</summary>
    public ImageCacheUnavailableException(string message, Exception inner) : base(message, inner) { }
}
