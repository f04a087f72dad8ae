using System.Diagnostics;
using System.Globalization;

namespace MLNet.FastAi.Training.Callbacks;

/// <summary>
/// fastai's progress display: a live bar with the smoothed loss while an epoch runs (on an interactive console), and
/// the epoch table (epoch, train_loss, valid_loss, metrics, time) as epochs finish.
/// </summary>
public sealed class ProgressCallback : Callback
{
    /// <inheritdoc/>
    public override bool RunsDuringLrFind => false;

    private readonly TextWriter _output;
    private readonly bool _live;
    private readonly Stopwatch _epochClock = new();
    private readonly Stopwatch _refresh = new();
    private bool _barShown;

    /// <summary>Writes to <paramref name="output"/> (the console by default); the live bar only on a terminal.</summary>
    public ProgressCallback(TextWriter? output = null, bool? live = null)
    {
        _output = output ?? Console.Out;
        _live = live ?? (output is null && !Console.IsOutputRedirected);
    }

    /// <inheritdoc/>
    public override int Order => 70;

    /// <summary>Seconds between refreshes of the live bar (each refresh reads the loss from the device).</summary>
    public double RefreshSeconds { get; set; } = 0.25;

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        _output.WriteLine(string.Join("", Learner.Recorder.MetricNames.Select(Cell)));
        _output.Flush();
    }

    /// <inheritdoc/>
    public override void BeforeEpoch()
    {
        _epochClock.Restart();
        _refresh.Restart();
    }

    /// <inheritdoc/>
    public override void AfterBatch()
    {
        if (!_live || _refresh.Elapsed.TotalSeconds < RefreshSeconds) return;
        _refresh.Restart();
        int done = Learner.Iteration + 1, total = Math.Max(1, Learner.IterationCount);
        const int width = 30;
        int filled = width * done / total;
        double elapsed = _epochClock.Elapsed.TotalSeconds;
        double remaining = elapsed / done * (total - done);
        string loss = Learner.IsTraining ? $" {Learner.Recorder.SmoothLoss:0.0000}" : "";
        string phase = Learner.IsTraining ? "train" : "valid";
        _output.Write($"\r{phase} {new string('█', filled)}{new string('░', width - filled)} {done}/{total} {Clock(elapsed)}<{Clock(remaining)}{loss}   ");
        _output.Flush();
        _barShown = true;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        ClearBar();
        var r = Learner.Recorder.Epochs[^1];
        var cells = new List<string> { r.Epoch.ToString(CultureInfo.InvariantCulture), Number(r.TrainLoss), Number(r.ValidLoss) };
        cells.AddRange(Learner.Metrics.Select(m => Number(r.Metrics.TryGetValue(m.Name, out var v) ? v : double.NaN)));
        cells.Add(Clock(r.Duration.TotalSeconds));
        _output.WriteLine(string.Join("", cells.Select(Cell)));
        _output.Flush();
    }

    /// <inheritdoc/>
    public override void AfterFit() => ClearBar();

    private void ClearBar()
    {
        if (!_barShown) return;
        _output.Write("\r" + new string(' ', 90) + "\r");
        _barShown = false;
    }

    private static string Cell(string text) => text.PadRight(Math.Max(12, text.Length + 2));

    private static string Number(double v) => double.IsNaN(v) ? "nan" : v.ToString("0.000000", CultureInfo.InvariantCulture);

    internal static string Clock(double seconds)
    {
        if (double.IsNaN(seconds) || double.IsInfinity(seconds)) seconds = 0;
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
    }
}
