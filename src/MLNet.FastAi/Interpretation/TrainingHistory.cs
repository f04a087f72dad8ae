using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Interpretation;

/// <summary>
/// Keeps what every fit recorded. The learner's <see cref="Recorder"/> starts afresh with each fit, so fine-tuning's
/// frozen and unfrozen phases are gathered here into one history for the report's table and plots.
/// </summary>
internal sealed class TrainingHistory : Callback
{
    private readonly List<(string Phase, EpochRecord Record)> _epochs = new();
    private readonly List<double> _losses = new();
    private readonly List<double> _learningRates = new();
    private readonly List<double> _momentums = new();
    private readonly List<int> _epochEnds = new();
    private readonly List<double> _validLosses = new();
    private string _phase = "";

    /// <summary>After the Recorder (50), the trackers (60) and the progress table (70).</summary>
    public override int Order => 80;

    public override bool RunsDuringLrFind => false;

    /// <summary>Every epoch of every fit, with the phase it belonged to ("frozen" or "unfrozen").</summary>
    public IReadOnlyList<(string Phase, EpochRecord Record)> Epochs => _epochs;

    /// <summary>Smoothed training loss per batch, across fits.</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>Learning rate of the last parameter group per batch, across fits.</summary>
    public IReadOnlyList<double> LearningRates => _learningRates;

    /// <summary>Momentum per batch, across fits.</summary>
    public IReadOnlyList<double> Momentums => _momentums;

    /// <summary>Number of batches done at the end of each epoch, across fits.</summary>
    public IReadOnlyList<int> EpochEndIterations => _epochEnds;

    /// <summary>Validation loss per epoch, across fits.</summary>
    public IReadOnlyList<double> ValidLosses => _validLosses;

    public override void BeforeFit() => _phase = Learner.FrozenGroups > 0 ? "frozen" : "unfrozen";

    public override void AfterEpoch() => _epochs.Add((_phase, Learner.Recorder.Epochs[^1]));

    public override void AfterFit()
    {
        var recorder = Learner.Recorder;
        int offset = _losses.Count;
        _losses.AddRange(recorder.Losses);
        _learningRates.AddRange(recorder.LearningRates);
        _momentums.AddRange(recorder.Momentums);
        _epochEnds.AddRange(recorder.EpochEndIterations.Select(i => i + offset));
        _validLosses.AddRange(recorder.Epochs.Select(e => e.ValidLoss));
    }
}
