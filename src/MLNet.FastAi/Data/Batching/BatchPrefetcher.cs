using MLNet.FastAi.Data.Caching;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Batching;

/// <summary>
/// Reads (or decodes) the images of an epoch's batches in background workers, a bounded number of batches ahead of
/// training, into a ring of reusable uint8 buffers. The order is fixed before the first read, so what each batch holds
/// never depends on timing; memory is <c>depth × batch × 3·H·W</c> bytes whatever the dataset's size, in buffers the
/// caller allocates once (see <see cref="AllocateSlots"/>) and keeps across epochs.
/// </summary>
internal sealed class BatchPrefetcher : IDisposable
{
    private readonly PixelStore _store;
    private readonly long[] _order;
    private readonly int _batchSize;
    private readonly int _batchCount;
    private readonly int _workers;
    private readonly Tensor[] _slots;
    private readonly Task?[] _filling;
    private readonly CancellationTokenSource _stop = new();
    private int _next;

    /// <param name="store">The pixels.</param>
    /// <param name="order">Every position to read, in order; batch b is <c>order[b·batchSize ..]</c>.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="batchCount">Batches to read (the last may be partial).</param>
    /// <param name="slots">The buffers, from <see cref="AllocateSlots"/>: as many batches as are read ahead (the caller owns them).</param>
    /// <param name="workers">Threads reading each batch.</param>
    public BatchPrefetcher(PixelStore store, long[] order, int batchSize, int batchCount, Tensor[] slots, int workers)
    {
        _store = store;
        _order = order;
        _batchSize = batchSize;
        _batchCount = batchCount;
        _workers = workers;
        _slots = slots;
        _filling = new Task?[slots.Length];
        for (int b = 0; b < Math.Min(slots.Length, batchCount); b++) Start(b);
    }

    /// <summary>
    /// <paramref name="depth"/> uint8 buffers of a batch each; page-locked when <paramref name="pinned"/>, so that
    /// copies to a GPU need no staging.
    /// </summary>
    public static Tensor[] AllocateSlots(PixelStore store, int batchSize, int depth, bool pinned)
    {
        var slots = new Tensor[Math.Max(1, depth)];
        for (int s = 0; s < slots.Length; s++)
        {
            var buffer = empty(new long[] { batchSize, 3, store.Height, store.Width }, ScalarType.Byte);
            slots[s] = (pinned ? buffer.pin_memory() : buffer).DetachFromDisposeScope();
            if (pinned) buffer.Dispose();
        }
        return slots;
    }

    /// <summary>
    /// The next batch's images, uint8 [B, 3, H, W], valid until the following call (its buffer is then refilled):
    /// callers copy or convert it first.
    /// </summary>
    public Tensor Next()
    {
        if (_next >= _batchCount) throw new InvalidOperationException("Every batch of the epoch was read.");
        int b = _next++;
        // The previous batch's buffer is free now (the caller has converted it): refill it while this one is awaited.
        if (b >= 1 && b - 1 + _slots.Length < _batchCount) Start(b - 1 + _slots.Length);
        int slot = b % _slots.Length;
        try
        {
            // A failed read surfaces here, on the training thread, with the file named.
            _filling[slot]!.GetAwaiter().GetResult();
        }
        catch (AggregateException e)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
        }
        finally
        {
            _filling[slot] = null;
        }
        return _slots[slot].narrow(0, 0, Length(b));
    }

    private int Length(int batch) => (int)Math.Min(_batchSize, _order.Length - (long)batch * _batchSize);

    private void Start(int batch)
    {
        int slot = batch % _slots.Length;
        var buffer = _slots[slot];
        int length = Length(batch);
        long start = (long)batch * _batchSize;
        var token = _stop.Token;
        _filling[slot] = Task.Run(() =>
        {
            var memory = PixelMemory.Of(buffer);
            long itemBytes = _store.ItemBytes;
            int workers = Math.Max(1, Math.Min(_workers, length));
            int share = (length + workers - 1) / workers;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = token }, w =>
            {
                int from = w * share, count = Math.Min(share, length - from);
                if (count <= 0) return;
                var indices = new long[count];
                Array.Copy(_order, start + from, indices, 0, count);
                _store.Read(indices, k => memory.Item(from + k, itemBytes));
            });
        }, token);
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var task in _filling)
        {
            try
            {
                task?.Wait();
            }
            catch (AggregateException) { }
        }
        _stop.Dispose();
    }
}
