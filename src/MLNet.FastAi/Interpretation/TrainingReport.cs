using System.Globalization;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Interpretation;

/// <summary>
/// One self-contained HTML file about a training run: the data and a training batch, the epoch table of every fit,
/// the loss, schedule and metric plots, and — given an interpretation — the confusion matrix, top losses and
/// classification report.
/// </summary>
public static class TrainingReport
{
    /// <summary>Writes the report; returns its path.</summary>
    /// <param name="learner">The trained learner.</param>
    /// <param name="path">The HTML file to write.</param>
    /// <param name="interpretation">Results on held-out data, e.g. <see cref="ClassificationInterpretation.FromLearner"/>.</param>
    /// <param name="title">The report's title.</param>
    public static string Write(Learner learner, string path, ClassificationInterpretation? interpretation = null, string title = "Training report") =>
        Build(learner, interpretation, title, run: null).Save(path);

    /// <summary>What a door knows of the run beyond the learner: the dataset, the schedule's fastai call, how long it took, and every fit's batches.</summary>
    internal sealed record Run(string Dataset, string Schedule, TimeSpan Duration, TrainingHistory History);

    internal static HtmlReport Build(Learner learner, ClassificationInterpretation? interpretation, string title, Run? run)
    {
        var data = learner.Data;
        var report = new HtmlReport(title);
        report.AddHeading("Data");
        var rows = new List<IReadOnlyList<string>>();
        if (run is not null) rows.Add(["dataset", run.Dataset]);
        rows.Add(["training images", Count(data.Train.Count)]);
        rows.Add(["validation images", Count(data.Valid.Count)]);
        if (data.Test is { } test) rows.Add(["test images", Count(test.Count)]);
        rows.Add(["classes", $"{data.ClassCount}: {string.Join(", ", data.Classes)}"]);
        rows.Add(["image size", data.Pipeline.ToString()]);
        rows.Add(["batch size", Count(data.BatchSize)]);
        rows.Add(["normalization", learner.Normalization.ToString()]);
        rows.Add(["augmentation", data.Augmentation?.ToString() ?? "none"]);
        rows.Add(["seed", Count(data.Seed)]);
        report.AddTable(["", ""], rows);
        report.AddImage(data.ShowBatchPng(), "A training batch (show_batch)");

        report.AddHeading("Training");
        report.AddParagraph($"{learner.Options.Architecture}, {(learner.IsPretrained ? "pretrained" : "random initial weights")}" +
                            (run is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; {run.Schedule}; {run.Duration.TotalSeconds:0.0} s")) +
                            $" on {learner.Device.type}.");
        AddEpochs(report, learner, run?.History);

        if (interpretation is not null)
        {
            report.AddHeading("Validation");
            new InterpretationPictures(interpretation, topLosses: 9).AddTo(report);
        }
        return report;
    }

    /// <summary>The epoch table and plots: of every fit when a history was kept, else of the recorder (every fit's epochs, the last fit's batches).</summary>
    private static void AddEpochs(HtmlReport report, Learner learner, TrainingHistory? history)
    {
        var epochs = history?.Epochs ?? learner.Recorder.History.Select(e => ($"fit {e.FitNumber}", e)).ToList();
        if (epochs.Count == 0) return;
        var metricNames = epochs[0].Record.Metrics.Keys.ToList();
        report.AddTable(
            new[] { "phase", "epoch", "train_loss", "valid_loss" }.Concat(metricNames).Append("time").ToList(),
            epochs.Select(e => (IReadOnlyList<string>)new[] { e.Phase, Count(e.Record.Epoch), Number(e.Record.TrainLoss), Number(e.Record.ValidLoss) }
                .Concat(metricNames.Select(m => Number(e.Record.Metrics.TryGetValue(m, out var v) ? v : double.NaN)))
                .Append(e.Record.Duration.ToString(@"mm\:ss", CultureInfo.InvariantCulture)).ToList()),
            "Epochs");
        var recorder = learner.Recorder;
        var (losses, ends, validLosses, rates, momentums) = history is not null
            ? (history.Losses, history.EpochEndIterations, history.ValidLosses, history.LearningRates, history.Momentums)
            : (recorder.Losses, recorder.EpochEndIterations, (IReadOnlyList<double>)recorder.Epochs.Select(e => e.ValidLoss).ToList(), recorder.LearningRates, recorder.Momentums);
        if (losses.Count > 1)
        {
            report.AddImage(LossPlot.ToPng(losses, ends, validLosses, Math.Min(LossPlot.DefaultSkipStart, losses.Count - 2)), "Loss (plot_loss)");
            report.AddImage(SchedulePlot.ToPng(rates, momentums), "Learning rate and momentum (plot_sched)");
        }
        report.AddImage(MetricsPlot.ToPng(
            metricNames.Select(m => new NamedSeries(m, epochs.Select(e => e.Record.Metrics.TryGetValue(m, out var v) ? v : double.NaN).ToList())).ToList(),
            epochs.Select(e => e.Record.TrainLoss).ToList(), epochs.Select(e => e.Record.ValidLoss).ToList()), "Metrics per epoch");
    }

    private static string Count(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(double value) => double.IsNaN(value) ? "nan" : value.ToString("0.000000", CultureInfo.InvariantCulture);
}
