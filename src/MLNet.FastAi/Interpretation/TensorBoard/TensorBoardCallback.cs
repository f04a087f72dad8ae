using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>
/// Logs training to TensorBoard event files in <c>baseDirectory/runName</c> (the blog's
/// <c>LearnerTensorboardWriter(learn, base_dir, name)</c>; tags follow fastai v2's <c>TensorBoardCallback</c>): per
/// training batch the smoothed <c>train_loss</c> and every group's <c>lr_i</c> and <c>mom_i</c>; per epoch
/// <c>valid_loss</c> and the metrics; at the end of each fit the validation confusion matrix and a sample batch as
/// images. Steps count training batches across all fits of the learner, so fine_tune's two phases follow each other.
/// </summary>
/// <remarks>Batch values are written when their epoch ends, so logging never waits for the GPU mid-epoch.</remarks>
public sealed class TensorBoardCallback : Callback, IDisposable
{
    /// <inheritdoc/>
    public override bool RunsDuringLrFind => false;

    private TensorBoardWriter? _writer;
    private long _stepOffset;
    private int _written;

    /// <summary>Creates the callback.</summary>
    /// <param name="baseDirectory">Parent folder of runs (fastai v1 <c>base_dir</c>).</param>
    /// <param name="runName">Run folder name; null uses the start time.</param>
    /// <param name="logImages">Also log the confusion matrix and a sample batch.</param>
    public TensorBoardCallback(string baseDirectory = "runs", string? runName = null, bool logImages = true)
    {
        LogDirectory = Path.GetFullPath(Path.Combine(baseDirectory, runName ?? DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)));
        LogImages = logImages;
    }

    /// <summary>Where the event files go.</summary>
    public string LogDirectory { get; }

    /// <summary>Whether images are logged at the end of each fit.</summary>
    public bool LogImages { get; }

    /// <summary>The event file being written (after the first fit started).</summary>
    public string? EventFile => _writer?.FilePath;

    /// <inheritdoc/>
    public override int Order => 65;

    /// <inheritdoc/>
    public override void BeforeFit()
    {
        _writer ??= new TensorBoardWriter(LogDirectory);
        _written = 0;
    }

    /// <inheritdoc/>
    public override void AfterEpoch()
    {
        var recorder = Learner.Recorder;
        var losses = recorder.Losses;
        var lrs = recorder.GroupLearningRates;
        var moms = recorder.GroupMomentums;
        for (int i = _written; i < losses.Count; i++)
        {
            var values = new List<(string, float)> { (TensorBoardTags.TrainLoss, (float)losses[i]) };
            for (int g = 0; g < lrs[i].Length; g++) values.Add((TensorBoardTags.LearningRate(g), (float)lrs[i][g]));
            for (int g = 0; g < moms[i].Length; g++) values.Add((TensorBoardTags.Momentum(g), (float)moms[i][g]));
            _writer!.AddScalars(values, _stepOffset + i + 1);
        }
        _written = losses.Count;
        var epoch = recorder.Epochs[^1];
        var epochValues = new List<(string, float)> { (TensorBoardTags.ValidLoss, (float)epoch.ValidLoss) };
        epochValues.AddRange(epoch.Metrics.Select(m => (m.Key, (float)m.Value)));
        _writer!.AddScalars(epochValues, _stepOffset + losses.Count);
        _writer.Flush();
    }

    /// <inheritdoc/>
    public override void AfterFit()
    {
        if (_writer is null) return;
        long step = _stepOffset + Learner.Recorder.Losses.Count;
        if (LogImages && Learner.Recorder.Epochs.Count > 0)
        {
            var interpretation = ClassificationInterpretation.FromLearner(Learner);
            _writer.AddImage("confusion_matrix", interpretation.ConfusionMatrixPng(), step);
            _writer.AddImage(TensorBoardTags.SampleResults, Learner.Data.ShowBatchPng(augment: false), step);
        }
        _stepOffset = step;
        _writer.Flush();
    }

    /// <summary>Closes the event file.</summary>
    public void Dispose()
    {
        _writer?.Dispose();
        _writer = null;
    }
}
