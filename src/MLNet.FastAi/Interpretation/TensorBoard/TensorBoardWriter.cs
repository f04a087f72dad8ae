using System.Net;
using Google.Protobuf;
using Tensorboard;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>
/// Writes a TensorBoard event file (scalars, images, text) that <c>tensorboard --logdir</c> reads, without
/// TensorFlow or Python. Each instance creates one new file
/// <c>&lt;logDir&gt;/events.out.tfevents.&lt;unix seconds&gt;.&lt;host&gt;.&lt;pid&gt;.&lt;n&gt;</c>.
/// </summary>
/// <remarks>
/// <para>All methods are thread-safe. Records are buffered and reach the file on <see cref="Flush"/>, every
/// flush interval (30 seconds unless set), and on <see cref="Dispose"/>.</para>
/// <para>The file is appended to while training runs, as TensorBoard expects: its reader follows growing files and
/// ignores an incomplete last record, so a partially written file is never mistaken for a corrupt one.</para>
/// <para>Use the tags of <see cref="TensorBoardTags"/> to match fastai's <c>TensorBoardCallback</c>.</para>
/// </remarks>
internal sealed class TensorBoardWriter : IDisposable
{
    private static int s_fileCounter = -1;

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly FileStream _stream;
    // One buffer serializes every event, grown to the largest seen; records are framed from it under the lock.
    private byte[] _eventBuffer = new byte[1024];
    private readonly ITimer _flushTimer;
    private bool _unflushed;
    private bool _disposed;
    private Exception? _backgroundFlushError;

    /// <summary>Creates the log directory if needed and starts a new event file in it.</summary>
    /// <param name="logDir">Directory TensorBoard is pointed at (one directory per run is usual).</param>
    /// <param name="fileNameSuffix">Optional text appended to the file name, as TensorBoard's <c>filename_suffix</c>.</param>
    /// <param name="flushInterval">How often buffered records are written out; 30 seconds when null.</param>
    public TensorBoardWriter(string logDir, string? fileNameSuffix = null, TimeSpan? flushInterval = null)
        : this(logDir, fileNameSuffix, flushInterval ?? TimeSpan.FromSeconds(30), TimeProvider.System)
    {
    }

    internal TensorBoardWriter(string logDir, string? fileNameSuffix, TimeSpan flushInterval, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(logDir);
        if (flushInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(flushInterval), flushInterval, "The TensorBoard flush interval must be positive.");
        if (fileNameSuffix is not null && fileNameSuffix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"The TensorBoard file name suffix '{fileNameSuffix}' contains characters not allowed in file names.", nameof(fileNameSuffix));
        _time = time;
        LogDirectory = Path.GetFullPath(logDir);
        try
        {
            Directory.CreateDirectory(LogDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot create the TensorBoard log directory '{LogDirectory}': {e.Message}", e);
        }

        var now = _time.GetUtcNow();
        FilePath = Path.Combine(LogDirectory, FileName(now.ToUnixTimeSeconds(), fileNameSuffix));
        // Others may read while training writes: TensorBoard tails the file.
        _stream = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 64 * 1024);

        TfRecordFraming.WriteRecord(_stream, Serialize(TensorBoardEventEncoder.FileVersionEvent(ToWallTime(now))));
        _stream.Flush();
        _flushTimer = _time.CreateTimer(_ => FlushFromTimer(), null, flushInterval, flushInterval);
    }

    /// <summary>The full path of the log directory.</summary>
    public string LogDirectory { get; }

    /// <summary>The full path of the event file this writer appends to.</summary>
    public string FilePath { get; }

    /// <summary>Logs one scalar (a loss, a learning rate, a metric) at a training step.</summary>
    public void AddScalar(string tag, float value, long step)
    {
        CheckTag(tag);
        Write(step, [TensorBoardEventEncoder.Scalar(tag, value)]);
    }

    /// <summary>Logs several scalars at one step, in one event.</summary>
    public void AddScalars(IEnumerable<(string Tag, float Value)> values, long step)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values as IReadOnlyCollection<(string Tag, float Value)> ?? values.ToList();
        foreach (var (tag, _) in list) CheckTag(tag);
        if (list.Count == 0) return;
        Write(step, list.Select(v => TensorBoardEventEncoder.Scalar(v.Tag, v.Value)));
    }

    /// <summary>Logs a PNG image whose size is read from its header.</summary>
    public void AddImage(string tag, byte[] pngBytes, long step)
    {
        CheckTag(tag);
        var header = ReadPngHeader(tag, pngBytes);
        WriteImage(tag, pngBytes, header.Width, header.Height, header.TensorBoardColorspace, step);
    }

    /// <summary>Logs a PNG image (for example a plot of predictions); the size must be the PNG's own.</summary>
    public void AddImage(string tag, byte[] pngBytes, int width, int height, long step)
    {
        CheckTag(tag);
        var header = ReadPngHeader(tag, pngBytes);
        if (header.Width != width || header.Height != height)
            throw new ArgumentException($"Image '{tag}': given size {width}x{height} but the PNG is {header.Width}x{header.Height}.", nameof(pngBytes));
        WriteImage(tag, pngBytes, width, height, header.TensorBoardColorspace, step);
    }

    /// <summary>Logs text (Markdown) for TensorBoard's Text tab.</summary>
    public void AddText(string tag, string text, long step)
    {
        CheckTag(tag);
        ArgumentNullException.ThrowIfNull(text);
        Write(step, [TensorBoardEventEncoder.Text(tag, text)]);
    }

    /// <summary>Writes buffered records to the file now.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            ThrowIfUnusable();
            _stream.Flush();
            _unflushed = false;
        }
    }

    /// <summary>Flushes and closes the file.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _flushTimer.Dispose();
            _stream.Dispose();
        }
    }

    internal static string FileName(long unixSeconds, string? suffix) =>
        $"events.out.tfevents.{unixSeconds:D10}.{HostName()}.{Environment.ProcessId}.{Interlocked.Increment(ref s_fileCounter)}{suffix}";

    private static string HostName()
    {
        string host;
        try { host = Dns.GetHostName(); }
        catch (System.Net.Sockets.SocketException) { host = Environment.MachineName; }
        foreach (char c in Path.GetInvalidFileNameChars()) host = host.Replace(c, '_');
        return host.Length > 0 ? host : "localhost";
    }

    private void WriteImage(string tag, byte[] png, int width, int height, int colorspace, long step) =>
        Write(step, [TensorBoardEventEncoder.Image(tag, png, width, height, colorspace)]);

    private void Write(long step, IEnumerable<Summary.Types.Value> values)
    {
        lock (_gate)
        {
            ThrowIfUnusable();
            var e = TensorBoardEventEncoder.SummaryEvent(ToWallTime(_time.GetUtcNow()), step, values);
            TfRecordFraming.WriteRecord(_stream, Serialize(e));
            _unflushed = true;
        }
    }

    /// <summary>The event's bytes in the reused buffer; valid until the next call. Callers hold the lock, or own the writer still.</summary>
    private ReadOnlySpan<byte> Serialize(Event e)
    {
        int size = e.CalculateSize();
        if (size > _eventBuffer.Length) _eventBuffer = new byte[Math.Max(size, 2 * _eventBuffer.Length)];
        // A CodedOutputStream over the array: TorchSharp's generated classes predate span-based serialization.
        var output = new CodedOutputStream(_eventBuffer);
        e.WriteTo(output);
        output.Flush();
        return _eventBuffer.AsSpan(0, size);
    }

    private void FlushFromTimer()
    {
        lock (_gate)
        {
            if (_disposed || !_unflushed || _backgroundFlushError is not null) return;
            try
            {
                _stream.Flush();
                _unflushed = false;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A timer thread must not throw; the next call on the writer reports the failure.
                _backgroundFlushError = e;
            }
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_backgroundFlushError is { } e)
            throw new IOException($"Writing the TensorBoard event file '{FilePath}' failed: {e.Message}", e);
    }

    private static void CheckTag(string tag)
    {
        if (string.IsNullOrWhiteSpace(tag)) throw new ArgumentException("A TensorBoard tag must not be empty.", nameof(tag));
    }

    private static PngHeader ReadPngHeader(string tag, byte[] pngBytes)
    {
        ArgumentNullException.ThrowIfNull(pngBytes);
        if (!PngHeader.TryRead(pngBytes, out var header))
            throw new ArgumentException($"Image '{tag}' is not a PNG (no PNG signature and IHDR chunk at the start).", nameof(pngBytes));
        return header;
    }

    private static double ToWallTime(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks / (double)TimeSpan.TicksPerSecond;
}
