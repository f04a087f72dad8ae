using System.Globalization;
using System.Text;

namespace MLNet.FastAi.Training.Callbacks;

/// <summary>Clips the global gradient norm before each step (fastai's <c>GradientClip</c>, max norm 1).</summary>
public sealed class GradientClipCallback : Callback
{
    /// <summary>Creates the callback.</summary>
    public GradientClipCallback(double maxNorm = 1.0)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        MaxNorm = maxNorm;
    }

    /// <summary>Largest allowed L2 norm of all gradients together.</summary>
    public double MaxNorm { get; }

    /// <inheritdoc/>
    public override void BeforeStep() => Learner.Optimizer.ClipGradientNorm(MaxNorm);
}

/// <summary>
/// Accumulates gradients over several batches until <c>samples</c> images were seen, then steps once (fastai's
/// <c>GradientAccumulation</c>, which counts samples, default 32). The loss is scaled so a step sees the mean gradient.
/// </summary>
public sealed class GradientAccumulationCallback : Callback
{
    private long _count;

    /// <summary>Creates the callback.</summary>
    public GradientAccumulationCallback(int samples = 32)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, "samples must be at least 1.");
        Samples = samples;
    }

    /// <summary>Images per optimizer step.</summary>
    public int Samples { get; }

    /// <summary>Optimizer steps taken in this fit.</summary>
    public int Steps { get; private set; }

    /// <inheritdoc/>
    public override int Order => -5;

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        _count = 0;
        Steps = 0;
    }

    /// <inheritdoc/>
    public override void AfterLoss()
    {
        if (!Learner.IsTraining || Learner.Loss is null || Learner.Targets is null) return;
        Learner.LossToBackpropagate = Learner.Loss * ((double)Learner.Targets.shape[0] / Samples);
    }

    /// <inheritdoc/>
    public override void BeforeStep()
    {
        _count += Learner.Targets!.shape[0];
        if (_count < Samples) throw new CancelBatchException("accumulating gradients");
        _count = 0;
        Steps++;
    }
}

/// <summary>Writes the epoch table to a CSV file as training goes (fastai's <c>CSVLogger</c>).</summary>
public sealed class CsvLoggerCallback : Callback
{
    /// <inheritdoc/>
    public override bool RunsDuringLrFind => false;

    /// <summary>Creates the logger.</summary>
    /// <param name="path">CSV file; relative paths are relative to the working directory (fastai: history.csv).</param>
    /// <param name="append">Add to an existing file instead of replacing it.</param>
    public CsvLoggerCallback(string path = "history.csv", bool append = false)
    {
        Path = System.IO.Path.GetFullPath(path);
        Append = append;
    }

    /// <summary>The CSV file.</summary>
    public string Path { get; }

    /// <summary>Whether rows are appended to an existing file.</summary>
    public bool Append { get; }

    /// <inheritdoc/>
    public override int Order => 60;

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        if (!Append || !File.Exists(Path))
            File.WriteAllText(Path, string.Join(",", Learner.Recorder.MetricNames) + "\n", Encoding.UTF8);
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        var r = Learner.Recorder.Epochs[^1];
        var cells = new List<string> { r.Epoch.ToString(CultureInfo.InvariantCulture), Number(r.TrainLoss), Number(r.ValidLoss) };
        cells.AddRange(Learner.Metrics.Select(m => Number(r.Metrics.TryGetValue(m.Name, out var v) ? v : double.NaN)));
        cells.Add(ProgressCallback.Clock(r.Duration.TotalSeconds));
        File.AppendAllText(Path, string.Join(",", cells) + "\n", Encoding.UTF8);
    }

    private static string Number(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}
