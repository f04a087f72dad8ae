using Microsoft.ML.Runtime;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// After every epoch: one line to ML.NET's log (<c>MLContext.Log</c>) and the user's
/// <see cref="FastAiCnnOptions.MetricsCallback"/>, numbering epochs across fine-tuning's two stages.
/// </summary>
internal sealed class FitReporter(IChannel channel, Action<FastAiCnnEpochMetrics>? metricsCallback, int totalEpochs) : Callback
{
    private static readonly IReadOnlyDictionary<string, double> NoMetrics = new Dictionary<string, double>();
    private int _epoch;

    public override int Order => 75;

    public override bool RunsDuringLrFind => false;

    public override void AfterEpoch()
    {
        var record = Learner.Recorder.Epochs[^1];
        bool validated = Learner.Data.Valid.Count > 0;
        var metrics = new FastAiCnnEpochMetrics(_epoch++, totalEpochs, Learner.FrozenGroups > 0, record.TrainLoss,
            validated ? record.ValidLoss : null, validated ? record.Metrics : NoMetrics, Learner.Hypers[^1].LearningRate, record.Duration);
        channel.Info(MessageSensitivity.None, "{0}", metrics.ToString());
        metricsCallback?.Invoke(metrics);
    }
}
