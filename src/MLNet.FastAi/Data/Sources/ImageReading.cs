using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources;

/// <summary>
/// What every source reads images with, for the life of one dataset's loaders: the options' size limit, worker count
/// and bad-image handling, the fit's cancellation, the headers of the files read so far (each file is read once) and a
/// decoder per pipeline.
/// </summary>
/// <param name="maxPixels">The largest image accepted, in pixels.</param>
/// <param name="workers">Decoding threads.</param>
/// <param name="onBadImage">Fail or skip on unusable images.</param>
/// <param name="cancellation">Stops reading.</param>
/// <param name="poll">Checks a cancellation the token does not carry (an ML.NET host's), in loops that read one image at a time.</param>
internal sealed class ImageReading(long maxPixels, int workers, BadImageHandling onBadImage, CancellationToken cancellation, Action? poll = null)
{
    private readonly Dictionary<string, ImageHeader> _headers = new(StringComparer.Ordinal);
    private readonly Dictionary<ImagePipeline, PixelDecoder> _decoders = new();

    public long MaxPixels => maxPixels;

    public int Workers => workers;

    public BadImageHandling OnBadImage => onBadImage;

    public CancellationToken Cancellation => cancellation;

    /// <summary>Throws <see cref="OperationCanceledException"/> once reading is to stop.</summary>
    public void ThrowIfCancelled()
    {
        poll?.Invoke();
        cancellation.ThrowIfCancellationRequested();
    }

    /// <summary>The headers of <paramref name="paths"/>, reading only files not read before.</summary>
    public ImageHeader[] FileHeaders(IReadOnlyList<string> paths)
    {
        string[] missing;
        lock (_headers) missing = paths.Where(p => !_headers.ContainsKey(p)).Distinct().ToArray();
        var read = ImageHeaders.Scan(missing, maxPixels, workers, cancellation);
        lock (_headers)
        {
            for (int i = 0; i < missing.Length; i++) _headers[missing[i]] = read[i];
            return paths.Select(p => _headers[p]).ToArray();
        }
    }

    /// <summary>Records headers read before the loaders existed (the scan that found the image size).</summary>
    public void Remember(IEnumerable<KeyValuePair<string, ImageHeader>> headers)
    {
        lock (_headers)
            foreach (var (path, header) in headers) _headers[path] = header;
    }

    /// <summary>The decoder of files to <paramref name="pipeline"/>'s pixels, made once.</summary>
    public PixelDecoder DecoderFor(ImagePipeline pipeline)
    {
        lock (_decoders)
        {
            if (!_decoders.TryGetValue(pipeline, out var decoder)) _decoders[pipeline] = decoder = new PixelDecoder(pipeline);
            return decoder;
        }
    }
}
