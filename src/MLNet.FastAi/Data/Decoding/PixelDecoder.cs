using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Data.Decoding;

/// <summary>Where one decoded image goes: a span of <see cref="ImagePipeline.PixelCount"/> bytes, planar RGB.</summary>
internal delegate Span<byte> PixelTarget(int item);

/// <summary>
/// Decodes image files through <see cref="ImagePipeline"/>'s ML.NET chain (the one the saved model replays) into
/// caller-provided memory; presizing's training-only store is loaded by the chain's LoadImages and stretched by
/// <see cref="SmoothStretch"/>. Thread-safe: each call runs its own ML.NET cursor, so workers decode in parallel.
/// </summary>
internal sealed class PixelDecoder
{
    private const string PixelsColumn = "__FastAiPixels";
    private readonly MLContext _context = new(seed: 0);
    private readonly ITransformer _transformer;

    public PixelDecoder(ImagePipeline pipeline)
    {
        pipeline.Validate();
        Pipeline = pipeline;
        var empty = _context.Data.LoadFromEnumerable(Array.Empty<PathRow>());
        // A training stretch decodes with ML.NET's LoadImages, as every pipeline does, then resizes itself.
        _transformer = pipeline.IsTrainingStretch
            ? _context.Transforms.LoadImages(ImagePipeline.LoadedColumn, "", nameof(PathRow.ImagePath)).Fit(empty)
            : pipeline.BuildEstimator(_context, nameof(PathRow.ImagePath), imageColumnIsPath: true, PixelsColumn, asFloat: false).Fit(empty);
    }

    public ImagePipeline Pipeline { get; }

    /// <summary>
    /// Decodes the files of <paramref name="items"/> into their targets. Returns the items that failed, with the
    /// decoder's reason (the others were written); with <paramref name="stopAtFirstFailure"/> it returns after the
    /// first.
    /// </summary>
    public List<(int Item, string Reason)> Decode(Func<int, string> pathOf, IReadOnlyList<int> items, PixelTarget target, bool stopAtFirstFailure)
    {
        var failures = new List<(int, string)>();
        var done = new HashSet<int>();
        if (TryDecode(pathOf, items, target, done, out _)) return failures;
        // ML.NET's cursors may decode ahead of the row they report, so a failure is pinned down one row at a time.
        foreach (int item in items)
        {
            if (done.Contains(item)) continue;
            if (!TryDecode(pathOf, new[] { item }, target, done, out string? reason))
            {
                failures.Add((item, reason!));
                if (stopAtFirstFailure) break;
            }
        }
        return failures;
    }

    /// <summary>Decodes the given items in one ML.NET cursor; false (with the error) when any of them fails.</summary>
    private bool TryDecode(Func<int, string> pathOf, IReadOnlyList<int> items, PixelTarget target, HashSet<int> done, out string? reason)
    {
        reason = null;
        if (items.Count == 0) return true;
        int size = Pipeline.PixelCount;
        var output = _transformer.Transform(_context.Data.LoadFromEnumerable(items.Select(i => new PathRow { ImagePath = pathOf(i) }).ToList()));
        var column = output.Schema[Pipeline.IsTrainingStretch ? ImagePipeline.LoadedColumn : PixelsColumn];
        try
        {
            using var cursor = output.GetRowCursor(new[] { column });
            var write = Pipeline.IsTrainingStretch ? Stretched(cursor, column) : Extracted(cursor, column, size);
            int k = 0;
            while (cursor.MoveNext())
            {
                int item = items[k++];
                write(target(item));
                done.Add(item);
            }
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            reason = e.GetBaseException().Message;
            return false;
        }
    }

    /// <summary>Writes the cursor's row of ImageAnalytics' pixel vector.</summary>
    private static SpanAction Extracted(DataViewRowCursor cursor, DataViewSchema.Column column, int size)
    {
        var getter = cursor.GetGetter<VBuffer<byte>>(column);
        var buffer = default(VBuffer<byte>);
        return destination =>
        {
            getter(ref buffer);
            if (buffer.Length != size) throw new InvalidDataException($"decoded to {buffer.Length} values instead of {size}");
            if (buffer.IsDense) buffer.GetValues().CopyTo(destination);
            else { destination.Clear(); buffer.CopyTo(destination); }
        };
    }

    /// <summary>Writes the cursor's row of loaded image, stretched smoothly.</summary>
    private SpanAction Stretched(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var getter = cursor.GetGetter<MLImage>(column);
        MLImage? image = null;
        return destination =>
        {
            getter(ref image!);
            try
            {
                SmoothStretch.ToPlanarRgb(image, Pipeline, destination);
            }
            finally
            {
                // Freed at once: the getter would free it only on the next row, and a chunk's last image never.
                image.Dispose();
                image = null;
            }
        };
    }

    private delegate void SpanAction(Span<byte> destination);

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
