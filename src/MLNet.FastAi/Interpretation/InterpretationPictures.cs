using System.Globalization;
using System.Text;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Interpretation.Plots;

namespace MLNet.FastAi.Interpretation;

/// <summary>
/// What the training report, <c>evaluate --report-dir</c> and <c>interpret</c> show of a classifier's mistakes: the
/// confusion matrix, the top losses, the classification report and the most confused pairs, as PNG bytes and text.
/// </summary>
internal sealed class InterpretationPictures(ClassificationInterpretation interpretation, int topLosses)
{
    public const string ConfusionMatrixFile = "confusion_matrix.png";
    public const string TopLossesFile = "top_losses.png";
    public const string ClassificationReportFile = "classification_report.txt";
    public const string HtmlFile = "report.html";

    private byte[]? _confusion, _topLosses;

    public ClassificationInterpretation Interpretation => interpretation;

    /// <summary>The confusion matrix picture (counts), fastai's plot_confusion_matrix.</summary>
    public byte[] ConfusionMatrixPng => _confusion ??= interpretation.ConfusionMatrixPng();

    /// <summary>The images with the largest losses, titled prediction/actual/loss/probability (fastai's plot_top_losses).</summary>
    public byte[] TopLossesPng => _topLosses ??= ImageGrid.ToPng(
        interpretation.TopLossTiles(Math.Min(topLosses, interpretation.Losses.Length)), new ImageGridOptions { Title = ImageGrid.TopLossesTitle });

    /// <summary>The classification report followed by the most confused pairs, as printed text.</summary>
    public string ReportText()
    {
        var text = new StringBuilder(interpretation.ClassificationReport().ToString());
        var confused = interpretation.MostConfused();
        text.AppendLine();
        text.AppendLine(confused.Count == 0 ? "No class was confused with another." : "Most confused (actual -> predicted: count):");
        foreach (var pair in confused.Take(20)) text.AppendLine($"  {pair.Actual} -> {pair.Predicted}: {pair.Count}");
        if (confused.Count > 20) text.AppendLine($"  ... {confused.Count - 20} more pairs");
        return text.ToString();
    }

    /// <summary>Writes the pictures and the report text into <paramref name="folder"/>; returns the files written.</summary>
    public List<string> WriteFiles(string folder)
    {
        var files = new List<string>
        {
            AtomicFile.WriteAllBytes(Path.Combine(folder, ConfusionMatrixFile), ConfusionMatrixPng),
            AtomicFile.WriteAllBytes(Path.Combine(folder, TopLossesFile), TopLossesPng),
            AtomicFile.WriteAllText(Path.Combine(folder, ClassificationReportFile), ReportText()),
        };
        return files;
    }

    /// <summary>Adds the interpretation section to an HTML report.</summary>
    public void AddTo(HtmlReport report)
    {
        report.AddParagraph(string.Create(CultureInfo.InvariantCulture,
            $"Accuracy {interpretation.Accuracy:0.0000} on {interpretation.Targets.Length} images."));
        report.AddImage(ConfusionMatrixPng, "Confusion matrix (rows: actual, columns: predicted)");
        report.AddClassificationReport(interpretation.Classes, interpretation.ConfusionMatrix());
        var confused = interpretation.MostConfused().Take(20).Select(p => (IReadOnlyList<string>)[p.Actual, p.Predicted, p.Count.ToString(CultureInfo.InvariantCulture)]).ToList();
        if (confused.Count > 0) report.AddTable(["actual", "predicted", "count"], confused, "Most confused");
        report.AddImage(TopLossesPng, "Top losses: prediction/actual/loss/probability");
    }
}
