using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data.Caching;

/// <summary>
/// Nothing kept: every read decodes the files again through the ML.NET chain. Memory stays flat whatever the
/// dataset's size; the prefetcher hides the decoding behind training where cores allow.
/// </summary>
internal sealed class StreamingPixelStore : PixelStore
{
    private readonly IReadOnlyList<string> _paths;
    private readonly PixelDecoder _decoder;
    private readonly string _splitName;

    public StreamingPixelStore(IReadOnlyList<string> paths, PixelDecoder decoder, string splitName)
        : base(paths.Count, decoder.Pipeline.Height, decoder.Pipeline.Width)
    {
        _paths = paths;
        _decoder = decoder;
        _splitName = splitName;
    }

    public override ImageCacheMode Mode => ImageCacheMode.Stream;

    public override void Read(IReadOnlyList<long> indices, PixelTarget target)
    {
        var positions = Enumerable.Range(0, indices.Count).ToList();
        var failures = _decoder.Decode(k => _paths[(int)indices[k]], positions, target, stopAtFirstFailure: true);
        if (failures.Count > 0)
        {
            var (k, reason) = failures[0];
            // Every file was checked before the fit, so the batches of a fit keep the same images whatever the
            // setting for bad images: a file that fails now changed since, or is damaged where only decoding sees it.
            throw new InvalidDataException(
                $"Could not decode image '{_paths[(int)indices[k]]}' ({_splitName} set) while streaming: {reason}. The file passed the checks made " +
                "before training, so it changed since or is damaged inside its compressed data; replace or remove it and start again " +
                $"(with {OptionKey.Cache} = Disk or Memory, images are decoded once up front, where {OptionKey.OnBadImage} = Skip can leave it out).");
        }
    }
}
