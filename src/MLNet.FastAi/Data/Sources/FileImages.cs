using System.Collections.Concurrent;
using MLNet.FastAi.Data.Caching;
using MLNet.FastAi.Data.Decoding;

namespace MLNet.FastAi.Data.Sources;

/// <summary>Images in files, named by their full paths: read by any worker in any order, so they can also be streamed.</summary>
internal sealed class FileImages(IReadOnlyList<string> paths) : ImageSource
{
    // One chunk per worker task: setting up a decoder costs about as much as decoding a few small images, so chunks are
    // as large as a bounded buffer allows (256 MNIST digits, 106 images at 224 px, 26 at 460 px).
    private const int MaxChunkImages = 256, MinChunkImages = 16;
    private const long ChunkBytes = 16L << 20;

    public IReadOnlyList<string> Paths => paths;

    public override int Count => paths.Count;

    public override IReadOnlyList<string> Names => paths;

    public override string NameOf(int position) => paths[position];

    public override string Quote(int position) => $"'{paths[position]}'";

    public override string Subject(int position, string splitName) => $"'{paths[position]}' ({splitName} set)";

    public override string Description => "";

    public override bool CanStream => true;

    public override string? CacheIdentity(int position) => paths[position];

    public override ImageSource Subset(IReadOnlyList<int> positions) => new FileImages(positions.Select(p => paths[p]).ToList());

    public override ImageHeader[] Headers(ImageReading reading) => reading.FileHeaders(paths);

    /// <summary>Decodes on the reading's workers, in chunks; with Fail, decoding stops at the first failure a worker meets and the earliest found is refused.</summary>
    public override void Decode(IReadOnlyList<int> positions, ImageHeader[] headers, ImagePipeline pipeline, IPixelSink sink, string splitName, ImageReading reading)
    {
        var decoder = reading.DecoderFor(pipeline);
        var failures = new ConcurrentDictionary<int, string>();
        for (int k = 0; k < positions.Count; k++)
            if (headers[positions[k]].Problem is { } problem) failures[k] = problem;
        if (failures.IsEmpty || reading.OnBadImage == BadImageHandling.Skip)
        {
            var usable = Enumerable.Range(0, positions.Count).Where(k => headers[positions[k]].IsUsable).ToList();
            int workers = reading.Workers;
            int itemBytes = pipeline.PixelCount;
            int chunkSize = (int)Math.Clamp(ChunkBytes / itemBytes, MinChunkImages, MaxChunkImages);
            // Enough chunks to keep every worker busy on small splits.
            chunkSize = Math.Max(1, Math.Min(chunkSize, (usable.Count + workers - 1) / Math.Max(1, workers)));
            int chunks = (usable.Count + chunkSize - 1) / chunkSize;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = reading.Cancellation }, (c, state) =>
            {
                if (reading.OnBadImage == BadImageHandling.Fail && !failures.IsEmpty) { state.Stop(); return; }
                var chunk = usable.GetRange(c * chunkSize, Math.Min(chunkSize, usable.Count - c * chunkSize));
                var buffer = new byte[chunk.Count * itemBytes];
                var failed = decoder.Decode(j => paths[positions[chunk[j]]], Enumerable.Range(0, chunk.Count).ToList(), j => buffer.AsSpan(j * itemBytes, itemBytes),
                    stopAtFirstFailure: reading.OnBadImage == BadImageHandling.Fail).ToDictionary(f => f.Item, f => f.Reason);
                for (int j = 0; j < chunk.Count; j++)
                {
                    if (failed.TryGetValue(j, out string? reason)) failures[chunk[j]] = reason;
                    else sink.Write(chunk[j], buffer.AsSpan(j * itemBytes, itemBytes));
                }
            });
        }
        if (failures.Count > 0 && reading.OnBadImage == BadImageHandling.Fail)
        {
            var first = failures.OrderBy(f => f.Key).First();
            throw BadImage.Refusal(Subject(positions[first.Key], splitName), first.Value);
        }
        // A sink's failure list is not thread-safe: filled after the parallel decoding.
        foreach (var (k, reason) in failures) sink.Fail(k, reason);
    }

    public override IReadOnlyList<ShownImage> Show(IReadOnlyList<int> positions) => positions.Select(p =>
    {
        string path = paths[p];
        if (!File.Exists(path)) throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        return new ShownImage(File.ReadAllBytes(path), ShownImageFormat.Encoded);
    }).ToList();
}
