namespace MLNet.FastAi.Data.Download;

/// <summary>A read-only pass-through stream that reports how far through the underlying file reading has got.</summary>
internal sealed class ProgressReportingStream : Stream
{
    private readonly Stream _inner;
    private readonly IProgress<DownloadProgress>? _progress;
    private readonly DownloadStage _stage;
    private readonly string _fileName;
    private readonly long _length;
    private long _position;
    private long _lastReported = -1;

    public ProgressReportingStream(Stream inner, IProgress<DownloadProgress>? progress, DownloadStage stage, string fileName)
    {
        _inner = inner;
        _progress = progress;
        _stage = stage;
        _fileName = fileName;
        _length = inner.Length;
        Report();
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Advance(_inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Advance(_inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Advance(await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Advance(int read)
    {
        _position += read;
        // Tar readers ask for a few hundred bytes at a time; reporting every 64 KiB keeps progress cheap.
        if (_position - _lastReported >= 1 << 16 || (read == 0 && _lastReported != _position)) Report();
        return read;
    }

    private void Report()
    {
        _lastReported = _position;
        _progress?.Report(new DownloadProgress(_stage, _fileName, _position, _length));
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}
