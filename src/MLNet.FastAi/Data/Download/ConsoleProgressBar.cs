namespace MLNet.FastAi.Data.Download;

/// <summary>
/// Draws <see cref="UntarData"/>'s progress as a one-line text bar, redrawn in place, for example
/// <c>Downloading mnist_png.tgz [############--------]  61%  9.6/15.7 MB</c>.
/// </summary>
/// <remarks>
/// Reports are drawn synchronously on the reporting thread, so pass this object itself rather than wrapping it
/// in <see cref="Progress{T}"/>, which would draw from the thread pool out of order.
/// </remarks>
public sealed class ConsoleProgressBar : IProgress<DownloadProgress>
{
    private readonly TextWriter _output;
    private readonly int _width;
    private readonly object _gate = new();
    private string? _lastLine;
    private DownloadStage? _lastStage;
    private string? _lastFile;

    /// <summary>Creates a progress bar.</summary>
    /// <param name="output">Where to draw; standard output when <see langword="null"/>.</param>
    /// <param name="width">How many characters the bar itself spans.</param>
    public ConsoleProgressBar(TextWriter? output = null, int width = 30)
    {
        if (width is < 5 or > 200) throw new ArgumentOutOfRangeException(nameof(width), width, "The bar width must be between 5 and 200 characters.");
        _output = output ?? Console.Out;
        _width = width;
    }

    /// <inheritdoc />
    public void Report(DownloadProgress value)
    {
        lock (_gate)
        {
            bool newLine = _lastStage is not null && (_lastStage != value.Stage || _lastFile != value.FileName);
            if (newLine && _lastStage != DownloadStage.Completed) _output.WriteLine();
            if (value.Stage == DownloadStage.Completed)
            {
                if (_lastStage != DownloadStage.Completed) _output.WriteLine($"Ready: {value.FileName}");
            }
            else
            {
                // Redrawing only when the visible text changes keeps a byte-by-byte stream of reports cheap.
                var line = Format(value);
                if (newLine || line != _lastLine) _output.Write("\r" + line);
                _lastLine = line;
            }
            _lastStage = value.Stage;
            _lastFile = value.FileName;
            _output.Flush();
        }
    }

    internal string Format(DownloadProgress value)
    {
        var verb = value.Stage switch
        {
            DownloadStage.Downloading => "Downloading",
            DownloadStage.Verifying => "Verifying",
            DownloadStage.Extracting => "Extracting",
            _ => "Ready",
        };
        if (value.Fraction is not double fraction)
            return $"{verb} {value.FileName} {Megabytes(value.BytesDone)} MB";
        int filled = (int)Math.Round(fraction * _width);
        var bar = new string('#', filled) + new string('-', _width - filled);
        return $"{verb} {value.FileName} [{bar}] {fraction * 100,3:0}%  {Megabytes(value.BytesDone)}/{Megabytes(value.TotalBytes!.Value)} MB";
    }

    private static string Megabytes(long bytes) =>
        (bytes / 1_000_000.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
