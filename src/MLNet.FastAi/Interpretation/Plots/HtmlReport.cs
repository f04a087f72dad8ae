using System.Globalization;
using System.Text;
using MLNet.FastAi.Internal;

namespace MLNet.FastAi.Interpretation.Plots;

/// <summary>
/// A training report as one self-contained HTML file: headings, text, tables (the epoch table, a classification
/// report) and PNG plots embedded as data URIs, so it opens anywhere with no other files. Every text is HTML-escaped.
/// </summary>
/// <example>
/// <code>
/// var report = new HtmlReport("Pets, resnet34")
///     .AddHeading("Training")
///     .AddTable(header, rows, caption: "Epochs")
///     .AddImage(LossPlot.ToPng(losses, iters, valid), "Loss");
/// report.Save("report.html");
/// </code>
/// </example>
internal sealed class HtmlReport
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly List<string> _blocks = [];

    /// <summary>Starts a report.</summary>
    /// <param name="title">The page title and top heading.</param>
    public HtmlReport(string title)
    {
        ArgumentNullException.ThrowIfNull(title);
        Title = title;
    }

    /// <summary>The page title and top heading.</summary>
    public string Title { get; }

    /// <summary>Adds a section heading.</summary>
    /// <param name="text">The heading text.</param>
    public HtmlReport AddHeading(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _blocks.Add($"<h2>{Encode(text)}</h2>");
        return this;
    }

    /// <summary>Adds a paragraph; line breaks in the text are kept.</summary>
    /// <param name="text">The paragraph text.</param>
    public HtmlReport AddParagraph(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _blocks.Add($"<p>{Encode(text).ReplaceLineEndings("<br>")}</p>");
        return this;
    }

    /// <summary>Adds text in a monospace block, as printed to a console (a model summary, a log excerpt).</summary>
    /// <param name="text">The text, shown exactly.</param>
    public HtmlReport AddPreformatted(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _blocks.Add($"<pre>{Encode(text)}</pre>");
        return this;
    }

    /// <summary>Adds a PNG picture, embedded in the page.</summary>
    /// <param name="png">The PNG bytes, for example from <see cref="LossPlot.ToPng"/>.</param>
    /// <param name="caption">Caption under the picture and its alternative text; optional.</param>
    public HtmlReport AddImage(byte[] png, string? caption = null)
    {
        ArgumentNullException.ThrowIfNull(png);
        if (png.Length < PngSignature.Length || !png.AsSpan(0, PngSignature.Length).SequenceEqual(PngSignature))
            throw new ArgumentException(
                $"The image{(caption is null ? "" : $" '{caption}'")} is not PNG data; HtmlReport embeds PNG only.", nameof(png));
        var alt = Encode(caption ?? "plot");
        var figure = new StringBuilder("<figure>");
        figure.Append("<img alt=\"").Append(alt).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\">");
        if (!string.IsNullOrEmpty(caption))
            figure.Append("<figcaption>").Append(Encode(caption)).Append("</figcaption>");
        _blocks.Add(figure.Append("</figure>").ToString());
        return this;
    }

    /// <summary>Adds a PNG file, embedded in the page.</summary>
    /// <param name="path">The PNG file, for example one written by <see cref="LossPlot.Save"/>.</param>
    /// <param name="caption">Caption under the picture; optional.</param>
    public HtmlReport AddImageFile(string path, string? caption = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Report image '{path}' does not exist.", path);
        return AddImage(File.ReadAllBytes(path), caption ?? Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>Adds a table of strings, such as fastai's epoch table; numeric cells are right-aligned.</summary>
    /// <param name="header">The column names.</param>
    /// <param name="rows">The rows, each with one cell per column.</param>
    /// <param name="caption">Caption above the table; optional.</param>
    public HtmlReport AddTable(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, string? caption = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        if (header.Count == 0)
            throw new ArgumentException($"Table{Named(caption)} has no columns.", nameof(header));
        var html = new StringBuilder("<table>");
        if (!string.IsNullOrEmpty(caption))
            html.Append("<caption>").Append(Encode(caption)).Append("</caption>");
        html.Append("<thead><tr>");
        foreach (var name in header)
            html.Append("<th>").Append(Encode(name ?? string.Empty)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        var index = 0;
        foreach (var row in rows)
        {
            if (row is null || row.Count != header.Count)
                throw new ArgumentException(
                    $"Row {index} of table{Named(caption)} has {row?.Count ?? 0} cells; the header has {header.Count} columns.",
                    nameof(rows));
            html.Append("<tr>");
            foreach (var cell in row)
                html.Append(IsNumber(cell) ? "<td class=\"num\">" : "<td>").Append(Encode(cell ?? string.Empty)).Append("</td>");
            html.Append("</tr>");
            index++;
        }
        _blocks.Add(html.Append("</tbody></table>").ToString());
        return this;
    }

    /// <summary>
    /// Adds scikit-learn's classification report computed from a confusion matrix: precision, recall, F1 and
    /// support per class, then accuracy, macro average and support-weighted average.
    /// </summary>
    /// <param name="classNames">The class names, in matrix order.</param>
    /// <param name="counts"><c>counts[actual, predicted]</c>, as given to <see cref="ConfusionMatrixPlot"/>.</param>
    /// <param name="digits">Decimals shown for the scores.</param>
    /// <param name="caption">Caption above the table.</param>
    public HtmlReport AddClassificationReport(IReadOnlyList<string> classNames, int[,] counts, int digits = 2, string? caption = "Classification report")
    {
        if (digits is < 0 or > 10)
            throw new ArgumentOutOfRangeException(nameof(digits), digits, "digits must be between 0 and 10.");
        var (classes, accuracy, macro, weighted, total) = ClassificationReport.Compute(classNames, counts);
        var format = "F" + digits.ToString(CultureInfo.InvariantCulture);
        string Score(double value) => value.ToString(format, CultureInfo.InvariantCulture);
        string[] Cells(ClassificationReport.Row r) =>
            [r.Label, Score(r.Precision), Score(r.Recall), Score(r.F1), r.Support.ToString(CultureInfo.InvariantCulture)];
        var rows = classes.Select(Cells).ToList();
        rows.Add(["accuracy", "", "", Score(accuracy), total.ToString(CultureInfo.InvariantCulture)]);
        rows.Add(Cells(macro));
        rows.Add(Cells(weighted));
        return AddTable(["", "precision", "recall", "f1-score", "support"], rows, caption);
    }

    /// <summary>Adds a raw HTML fragment, inserted as is: the caller is responsible for escaping it.</summary>
    /// <param name="html">Trusted HTML.</param>
    public HtmlReport AddRawHtml(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        _blocks.Add(html);
        return this;
    }

    /// <summary>The whole page.</summary>
    public string ToHtml()
    {
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Encode(Title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(Encode(Title)).Append("</h1>\n");
        foreach (var block in _blocks)
            page.Append(block).Append('\n');
        return page.Append("</body>\n</html>\n").ToString();
    }

    /// <summary>Writes the page to a file (atomically: a reader never sees half a report).</summary>
    /// <param name="path">The HTML file to write; its folder is created when missing.</param>
    /// <returns>The full path of the written file.</returns>
    public string Save(string path) => AtomicFile.WriteAllText(path, ToHtml());

    /// <inheritdoc/>
    public override string ToString() => ToHtml();

    /// <summary>Escapes the five markup characters only, so non-ASCII text stays readable in the file (it is UTF-8).</summary>
    private static string Encode(string text)
    {
        var html = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            _ = c switch
            {
                '&' => html.Append("&amp;"),
                '<' => html.Append("&lt;"),
                '>' => html.Append("&gt;"),
                '"' => html.Append("&quot;"),
                '\'' => html.Append("&#39;"),
                _ => html.Append(c),
            };
        }
        return html.ToString();
    }

    private static string Named(string? caption) => string.IsNullOrEmpty(caption) ? string.Empty : $" '{caption}'";

    private static bool IsNumber(string? cell) =>
        !string.IsNullOrWhiteSpace(cell)
        && (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            || TimeSpan.TryParse(cell, CultureInfo.InvariantCulture, out _));

    private const string Style =
        "body{font-family:-apple-system,'Segoe UI','DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;" +
        "padding:0 1em;color:#222;line-height:1.45}" +
        "h1{font-size:1.6em;border-bottom:2px solid #1f77b4;padding-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em}" +
        "table{border-collapse:collapse;margin:1em 0;font-size:.92em}caption{text-align:left;font-weight:600;padding:.3em 0}" +
        "th,td{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:left}th{border-bottom:2px solid #999}" +
        "td.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:nth-child(even){background:#f6f8fa}" +
        "figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}figcaption{color:#555;font-size:.9em}" +
        "pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.88em}";
}
