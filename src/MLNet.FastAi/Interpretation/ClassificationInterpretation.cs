using System.Globalization;
using MLNet.FastAi.Data.Sources;
using System.Text;
using MLNet.FastAi.Data;
using MLNet.FastAi.Interpretation.Plots;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Interpretation;

/// <summary>One image with a large loss.</summary>
/// <param name="Index">Position in the predicted split.</param>
/// <param name="ImagePath">The image file, when known.</param>
/// <param name="Actual">True class.</param>
/// <param name="Predicted">Predicted class.</param>
/// <param name="Loss">Cross-entropy loss of the image.</param>
/// <param name="Probability">Probability given to the predicted class.</param>
public sealed record TopLoss(int Index, string? ImagePath, string Actual, string Predicted, double Loss, double Probability);

/// <summary>A pair of classes the model mixes up: how many images of <c>Actual</c> it called <c>Predicted</c>.</summary>
public sealed record ConfusedPair(string Actual, string Predicted, int Count);

/// <summary>One row of a classification report.</summary>
public sealed record ClassReportRow(string Label, double Precision, double Recall, double F1, long Support);

/// <summary>scikit-learn's classification report (which fastai prints): per class and averaged.</summary>
public sealed record ClassificationReportTable(IReadOnlyList<ClassReportRow> Classes, double Accuracy, ClassReportRow MacroAverage, ClassReportRow WeightedAverage, long Total)
{
    /// <summary>The report as aligned text, like <c>print_classification_report()</c>.</summary>
    public override string ToString()
    {
        int width = Math.Max(12, Classes.Max(c => c.Label.Length) + 2);
        var text = new StringBuilder();
        text.AppendLine("".PadRight(width) + $"{"precision",10}{"recall",10}{"f1-score",10}{"support",10}");
        text.AppendLine();
        foreach (var r in Classes) text.AppendLine(Row(r, width));
        text.AppendLine();
        text.AppendLine("accuracy".PadRight(width) + $"{"",10}{"",10}{Accuracy.ToString("0.00", CultureInfo.InvariantCulture),10}{Total,10}");
        text.AppendLine(Row(MacroAverage, width));
        text.AppendLine(Row(WeightedAverage, width));
        return text.ToString();
    }

    private static string Row(ClassReportRow r, int width) =>
        r.Label.PadRight(width) + $"{F(r.Precision),10}{F(r.Recall),10}{F(r.F1),10}{r.Support,10}";

    private static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
}

/// <summary>
/// What a classifier gets right and wrong on a set of images (fastai's <c>ClassificationInterpretation</c>):
/// confusion matrix (rows actual, columns predicted), most-confused pairs, top losses, classification report, and
/// their pictures.
/// </summary>
public sealed class ClassificationInterpretation
{
    private readonly ImageSource? _images;

    private ClassificationInterpretation(IReadOnlyList<string> classes, float[][] probabilities, int[] targets, int[] predicted, float[] losses, ImageSource? images)
    {
        _images = images;
        Classes = classes;
        Probabilities = probabilities;
        Targets = targets;
        Predicted = predicted;
        Losses = losses;
        ImagePaths = images?.Names;
    }

    /// <summary>Interprets a learner's predictions on a labelled split (the validation set by default).</summary>
    public static ClassificationInterpretation FromLearner(Learner learner, ImageSplit? split = null)
    {
        var preds = learner.GetPreds(split, withLoss: true);
        if (preds.Losses is null) throw new InvalidOperationException($"The {preds.Split.Name} set has no labels to interpret against.");
        return new ClassificationInterpretation(preds.Classes, preds.Probabilities, preds.Targets, preds.Decoded, preds.Losses, preds.Split.Source);
    }

    /// <summary>
    /// Interprets any class probabilities — for example the <c>Score</c> column of an ML.NET model — against true
    /// class indices. Losses are the cross-entropy <c>−log p(actual)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Mismatched lengths, a row of the wrong width, or a target outside the classes.</exception>
    public static ClassificationInterpretation FromProbabilities(IReadOnlyList<string> classes, float[][] probabilities, int[] targets, IReadOnlyList<string>? imagePaths = null)
    {
        if (imagePaths is not null && imagePaths.Count != targets.Length) throw new ArgumentException($"{imagePaths.Count} image paths but {targets.Length} targets.", nameof(imagePaths));
        return FromProbabilities(classes, probabilities, targets, imagePaths is null ? null : new FileImages(imagePaths));
    }

    /// <summary>The interpretation of probabilities whose images come from any source (files, or rows of an ML.NET column).</summary>
    internal static ClassificationInterpretation FromProbabilities(IReadOnlyList<string> classes, float[][] probabilities, int[] targets, ImageSource? images)
    {
        if (probabilities.Length != targets.Length) throw new ArgumentException($"{probabilities.Length} probability rows but {targets.Length} targets.", nameof(targets));
        for (int i = 0; i < targets.Length; i++)
        {
            if (probabilities[i].Length != classes.Count) throw new ArgumentException($"Row {i} has {probabilities[i].Length} probabilities for {classes.Count} classes.", nameof(probabilities));
            if (targets[i] < 0 || targets[i] >= classes.Count) throw new ArgumentException($"Target {targets[i]} of row {i} is not a class index (0..{classes.Count - 1}).", nameof(targets));
        }
        var predicted = probabilities.Select(ArgMax).ToArray();
        var losses = probabilities.Select((p, i) => (float)-Math.Log(Math.Max(p[targets[i]], 1e-12))).ToArray();
        return new ClassificationInterpretation(classes, probabilities, targets, predicted, losses, images);
    }

    /// <summary>Class names, in index order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Probabilities per image and class.</summary>
    public float[][] Probabilities { get; }

    /// <summary>True class index per image.</summary>
    public int[] Targets { get; }

    /// <summary>Predicted class index per image.</summary>
    public int[] Predicted { get; }

    /// <summary>Cross-entropy loss per image.</summary>
    public float[] Losses { get; }

    /// <summary>
    /// The images' names, when known: their files, or for images from an ML.NET column (loaded images or encoded
    /// bytes) their rows ("row 4 of the data"); the pictures find either.
    /// </summary>
    public IReadOnlyList<string>? ImagePaths { get; }

    /// <summary>Fraction predicted right.</summary>
    public double Accuracy => Targets.Length == 0 ? double.NaN : (double)Targets.Where((t, i) => t == Predicted[i]).Count() / Targets.Length;

    /// <summary>Counts of images per (actual, predicted) class: rows actual, columns predicted, as fastai's.</summary>
    public int[,] ConfusionMatrix()
    {
        var m = new int[Classes.Count, Classes.Count];
        for (int i = 0; i < Targets.Length; i++) m[Targets[i], Predicted[i]]++;
        return m;
    }

    /// <summary>Off-diagonal cells with at least <paramref name="minCount"/> images, largest first (fastai's <c>most_confused</c>).</summary>
    public IReadOnlyList<ConfusedPair> MostConfused(int minCount = 1)
    {
        var m = ConfusionMatrix();
        var pairs = new List<ConfusedPair>();
        for (int a = 0; a < Classes.Count; a++)
            for (int p = 0; p < Classes.Count; p++)
                if (a != p && m[a, p] >= minCount) pairs.Add(new ConfusedPair(Classes[a], Classes[p], m[a, p]));
        return pairs.OrderByDescending(p => p.Count).ThenBy(p => p.Actual, StringComparer.Ordinal).ThenBy(p => p.Predicted, StringComparer.Ordinal).ToList();
    }

    /// <summary>The <paramref name="k"/> images with the largest (or smallest) losses (fastai's <c>top_losses</c>).</summary>
    public IReadOnlyList<TopLoss> TopLosses(int? k = null, bool largest = true)
    {
        var order = Enumerable.Range(0, Losses.Length);
        order = largest ? order.OrderByDescending(i => Losses[i]) : order.OrderBy(i => Losses[i]);
        return order.Take(k ?? Losses.Length)
            .Select(i => new TopLoss(i, ImagePaths?[i], Classes[Targets[i]], Classes[Predicted[i]], Losses[i], Probabilities[i][Predicted[i]]))
            .ToList();
    }

    /// <summary>Per-class precision, recall, F1 and support, with accuracy and averages.</summary>
    public ClassificationReportTable ClassificationReport()
    {
        var (rows, accuracy, macro, weighted, total) = Plots.ClassificationReport.Compute(Classes, ConfusionMatrix());
        static ClassReportRow Convert(Plots.ClassificationReport.Row r) => new(r.Label, r.Precision, r.Recall, r.F1, r.Support);
        return new ClassificationReportTable(rows.Select(Convert).ToList(), accuracy, Convert(macro), Convert(weighted), total);
    }

    /// <summary>Draws the confusion matrix (fastai's <c>plot_confusion_matrix</c>) to a PNG file; returns its path.</summary>
    public string PlotConfusionMatrix(string path, bool normalize = false, PlotOptions? options = null) =>
        ConfusionMatrixPlot.Save(path, Classes, ConfusionMatrix(), normalize, options: options);

    /// <summary>The confusion matrix picture as PNG bytes.</summary>
    public byte[] ConfusionMatrixPng(bool normalize = false, PlotOptions? options = null) =>
        ConfusionMatrixPlot.ToPng(Classes, ConfusionMatrix(), normalize, options: options);

    /// <summary>
    /// Draws the <paramref name="k"/> images with the largest losses, titled prediction/actual/loss/probability and
    /// red when wrong (fastai's <c>plot_top_losses</c>); returns the PNG's path.
    /// </summary>
    public string PlotTopLosses(string path, int k = 9, ImageGridOptions? options = null) =>
        ImageGrid.Save(path, TopLossTiles(k), options ?? new ImageGridOptions { Title = ImageGrid.TopLossesTitle });

    /// <summary>The top-loss pictures, titled as fastai's; refused when the images are unknown.</summary>
    internal List<ImageTile> TopLossTiles(int k)
    {
        if (_images is null)
            throw new InvalidOperationException("The images are unknown, so the top losses cannot be drawn: interpret with the image column (imageColumnName), or give the image paths.");
        var top = TopLosses(k);
        return ImageTile.FromSource(_images, top.Select(t => t.Index).ToList())
            .Select((tile, i) => tile.WithTopLossTitle(top[i].Predicted, top[i].Actual, top[i].Loss, top[i].Probability)).ToList();
    }

    private static int ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
