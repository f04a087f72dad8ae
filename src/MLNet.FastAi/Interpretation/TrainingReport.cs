using System.Globalization;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Interpretation;

/// <summary>
/// One self-contained HTML file about a training run: the set-up, the epoch table of every fit, the loss, schedule
/// and metric plots, and — given an interpretation — the confusion matrix, top losses and classification report.
/// </summary>
public static class TrainingReport
{
    /// <summary>Writes the report; returns its path.</summary>
    /// <param name="learner">The trained learner.</param>
    /// <param name="path">The HTML file to write.</param>
    /// <param name="interpretation">Results on held-out data, e.g. <see cref="ClassificationInterpretation.FromLearner"/>.</param>
    /// <param name="title">The report's title.</param>
    public static string Write(Learner learner, string path, ClassificationInterpretation? interpretation = null, string title = "Training report")
    {
        var data = learner.Data;
        var report = new HtmlReport(title)
            .AddParagraph($"{learner.Options.Architecture} on {learner.Device}; {data.Train.Count} training, {data.Valid.Count} validation" +
                          $"{(data.Test is null ? "" : $", {data.Test.Count} test")} images of {data.ClassCount} classes at {data.Pipeline}; " +
                          $"normalization {learner.Normalization}; {(learner.IsPretrained ? "pretrained body" : "random initialisation")}.");

        var history = learner.Recorder.History;
        if (history.Count > 0)
        {
            var metricNames = history[0].Metrics.Keys.ToList();
            var header = new List<string> { "fit", "epoch", "train_loss", "valid_loss" };
            header.AddRange(metricNames);
            header.Add("time");
            var rows = history.Select(e => (IReadOnlyList<string>)new List<string> { e.FitNumber.ToString(CultureInfo.InvariantCulture), e.Epoch.ToString(CultureInfo.InvariantCulture), F(e.TrainLoss), F(e.ValidLoss) }
                .Concat(metricNames.Select(m => F(e.Metrics.TryGetValue(m, out var v) ? v : double.NaN)))
                .Append(e.Duration.TotalSeconds.ToString("0.0s", CultureInfo.InvariantCulture)).ToList());
            report.AddHeading("Epochs").AddTable(header, rows);
        }
        var recorder = learner.Recorder;
        if (recorder.Losses.Count > 1)
        {
            report.AddHeading("Last fit");
            report.AddImage(LossPlot.ToPng(recorder.Losses, recorder.EpochEndIterations, recorder.Epochs.Select(e => e.ValidLoss).ToList(),
                Math.Min(LossPlot.DefaultSkipStart, recorder.Losses.Count - 2)), "Training loss (smoothed) and validation loss");
            report.AddImage(SchedulePlot.ToPng(recorder.LearningRates, recorder.Momentums), "Learning rate and momentum per iteration");
        }
        if (interpretation is not null)
        {
            report.AddHeading("Results").AddParagraph($"Accuracy {interpretation.Accuracy.ToString("0.0000", CultureInfo.InvariantCulture)} on {interpretation.Targets.Length} images.");
            report.AddImage(interpretation.ConfusionMatrixPng(), "Confusion matrix (rows: actual, columns: predicted)");
            if (interpretation.ImagePaths is not null)
                report.AddImage(ImageGrid.ToPng(interpretation.TopLosses(9).Select(t => ImageTile.FromFile(t.ImagePath!).WithTopLossTitle(t.Predicted, t.Actual, t.Loss, t.Probability)).ToList(),
                    new ImageGridOptions { Title = ImageGrid.TopLossesTitle }), "Top losses");
            report.AddClassificationReport(interpretation.Classes, interpretation.ConfusionMatrix());
            var confused = interpretation.MostConfused(2).Take(10).Select(p => (IReadOnlyList<string>)new[] { p.Actual, p.Predicted, p.Count.ToString(CultureInfo.InvariantCulture) });
            report.AddTable(new[] { "actual", "predicted", "count" }, confused, "Most confused pairs (at least 2 images)");
        }
        return report.Save(path);
    }

    private static string F(double v) => double.IsNaN(v) ? "nan" : v.ToString("0.000000", CultureInfo.InvariantCulture);
}
