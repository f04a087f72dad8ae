using System.Globalization;
using MLNet.FastAi.Cli.Training;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Cli.Reports;

/// <summary>The HTML report of <c>train --report</c>: what was trained on what, how every epoch went, and what the model gets wrong.</summary>
internal static class TrainingReport
{
    public static HtmlReport Build(Learner learner, TrainingHistory history, string dataPath, string schedule, TimeSpan duration)
    {
        var data = learner.Data;
        var report = new HtmlReport($"Training report: {learner.Options.Architecture.Name} on {Path.GetFileName(Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar))}");
        report.AddHeading("Data");
        report.AddTable(["", ""], new List<IReadOnlyList<string>>
        {
            new[] { "dataset", Path.GetFullPath(dataPath) },
            new[] { "training images", Count(data.Train.Count) },
            new[] { "validation images", Count(data.Valid.Count) },
            new[] { "classes", $"{data.ClassCount}: {string.Join(", ", data.Classes)}" },
            new[] { "image size", data.Pipeline.ToString() },
            new[] { "batch size", Count(data.BatchSize) },
            new[] { "normalization", learner.Normalization.ToString() },
            new[] { "augmentation", data.Augmentation is null ? "none" : data.Augmentation.ToString() },
            new[] { "seed", Count(data.Seed) },
        });
        report.AddImage(data.ShowBatchPng(), "A training batch (show_batch)");

        report.AddHeading("Training");
        report.AddParagraph($"{learner.Options.Architecture}, {(learner.IsPretrained ? "pretrained" : "random initial weights")}; {schedule}; " +
                            string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.0} s on {learner.Device.type}."));
        var metricNames = history.Epochs.Count == 0 ? new List<string>() : history.Epochs[0].Record.Metrics.Keys.ToList();
        report.AddTable(
            new[] { "phase", "epoch", "train_loss", "valid_loss" }.Concat(metricNames).Append("time").ToList(),
            history.Epochs.Select(e => (IReadOnlyList<string>)new[] { e.Phase, Count(e.Record.Epoch), Number(e.Record.TrainLoss), Number(e.Record.ValidLoss) }
                .Concat(metricNames.Select(m => Number(e.Record.Metrics[m])))
                .Append(e.Record.Duration.ToString(@"mm\:ss", CultureInfo.InvariantCulture)).ToList()),
            "Epochs");
        if (history.Losses.Count > 0)
        {
            report.AddImage(LossPlot.ToPng(history.Losses, history.EpochEndIterations, history.ValidLosses), "Loss (plot_loss)");
            report.AddImage(SchedulePlot.ToPng(history.LearningRates, history.Momentums), "Learning rate and momentum (plot_sched)");
        }
        if (history.Epochs.Count > 0)
            report.AddImage(MetricsPlot.ToPng(
                metricNames.Select(m => new NamedSeries(m, history.Epochs.Select(e => e.Record.Metrics[m]).ToList())).ToList(),
                history.Epochs.Select(e => e.Record.TrainLoss).ToList(), history.Epochs.Select(e => e.Record.ValidLoss).ToList()), "Metrics per epoch");

        report.AddHeading("Validation");
        new InterpretationPictures(ClassificationInterpretation.FromLearner(learner), topLosses: 9).AddTo(report);
        return report;
    }

    private static string Count(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(double value) => double.IsNaN(value) ? "nan" : value.ToString("0.000000", CultureInfo.InvariantCulture);
}
