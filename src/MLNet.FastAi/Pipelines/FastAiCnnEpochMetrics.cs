namespace MLNet.FastAi.Pipelines;

/// <summary>
/// What <see cref="FastAiCnnOptions.MetricsCallback"/> receives after every epoch (ImageClassificationTrainer's
/// <c>MetricsCallback</c> argument; fastai's epoch table row).
/// </summary>
/// <param name="Epoch">Zero-based epoch over the whole training (fine-tuning's frozen epochs first).</param>
/// <param name="TotalEpochs">The epochs planned (early stopping may end training sooner).</param>
/// <param name="BodyFrozen">True while only the head trains (fine-tuning's first stage, or a pretrained body under the other schedules).</param>
/// <param name="TrainLoss">The smoothed training loss at the end of the epoch.</param>
/// <param name="ValidationLoss">The mean validation loss; null when training runs without validation.</param>
/// <param name="Metrics">The validation metrics by name (accuracy, ...); empty when training runs without validation.</param>
/// <param name="LearningRate">The head's learning rate at the end of the epoch (the schedules move it every batch).</param>
/// <param name="Duration">Wall time of the epoch.</param>
public sealed record FastAiCnnEpochMetrics(int Epoch, int TotalEpochs, bool BodyFrozen, double TrainLoss, double? ValidationLoss,
    IReadOnlyDictionary<string, double> Metrics, double LearningRate, TimeSpan Duration)
{
    /// <summary>The epoch as ML.NET's log shows it: <c>epoch 0: train_loss … valid_loss … accuracy … lr … (1.2s)</c>.</summary>
    public override string ToString() =>
        $"epoch {Epoch}: train_loss {TrainLoss:0.000000} " +
        (ValidationLoss is { } valid ? $"valid_loss {valid:0.000000} " : "no validation ") +
        string.Concat(Metrics.Select(m => $"{m.Key} {m.Value:0.000000} ")) +
        $"lr {LearningRate:0.###e+0} ({Duration.TotalSeconds:0.0}s{(BodyFrozen ? ", body frozen" : "")})";
}
