using System.IO.Compression;

namespace MLNet.FastAi.Internal.Zip;

/// <summary>
/// Reads a zip entry and, at its end, compares the CRC-32 of what was read with the one the archive stores.
/// .NET's <see cref="ZipArchive"/> does not: a flipped byte in deflated data can decompress without error into
/// different bytes, which for weights means a model that loads and predicts differently.
/// </summary>
internal sealed class CrcCheckingStream : Stream
{
    private readonly Stream _inner;
    private readonly uint _expected;
    private readonly string _what;
    private readonly System.IO.Hashing.Crc32 _crc = new();
    private bool _verified;

    private CrcCheckingStream(Stream inner, uint expected, string what)
    {
        _inner = inner;
        _expected = expected;
        _what = what;
    }

    /// <summary>Opens <paramref name="entry"/> for reading, checked against its stored CRC-32 when fully read.</summary>
    public static Stream Open(ZipArchiveEntry entry) => new CrcCheckingStream(entry.Open(), entry.Crc32, $"zip entry '{entry.FullName}'");

    public override int Read(Span<byte> buffer)
    {
        int read = _inner.Read(buffer);
        Track(buffer[..read], asked: buffer.Length);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Track(buffer.Span[..read], asked: buffer.Length);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Adds what was read; a read of nothing when something was asked for is the end of the entry.</summary>
    private void Track(ReadOnlySpan<byte> data, int asked)
    {
        if (data.Length > 0)
        {
            _crc.Append(data);
            return;
        }
        if (asked == 0 || _verified) return;
        _verified = true;
        uint actual = _crc.GetCurrentHashAsUInt32();
        if (actual != _expected)
            throw new InvalidDataException($"{_what} fails its CRC-32 check (stored {_expected:X8}, read {actual:X8}): the archive is damaged.");
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
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
