using System.Text.RegularExpressions;
using MLNet.FastAi.Interpretation.Plots;

namespace MLNet.FastAi.Tests.Interpretation.Plots;

public class HtmlReportTests
{
    [Fact]
    public void Text_IsEscapedEverywhere()
    {
        const string evil = "<script>alert('x')</script> & \"q\"";
        var html = new HtmlReport(evil)
            .AddHeading(evil)
            .AddParagraph(evil)
            .AddPreformatted(evil)
            .AddTable([evil], [[evil]], caption: evil)
            .ToHtml();

        Assert.DoesNotContain("<script>", html);
        Assert.Equal(8, Regex.Matches(html, Regex.Escape("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")).Count);
    }

    [Fact]
    public void Images_AreEmbeddedAsDataUris()
    {
        var png = LossPlot.ToPng([2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7]);

        var html = new HtmlReport("run").AddImage(png, "Loss").ToHtml();

        var match = Regex.Match(html, "<img alt=\"Loss\" src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\">");
        Assert.True(match.Success);
        Assert.Equal(png, Convert.FromBase64String(match.Groups[1].Value));
        Assert.DoesNotContain("http", html); // self-contained: nothing to fetch
        Assert.Contains("<figcaption>Loss</figcaption>", html);
    }

    [Fact]
    public void EpochTable_KeepsRowsInOrderAndRightAlignsNumbers()
    {
        var html = new HtmlReport("run")
            .AddTable(["epoch", "train_loss", "valid_loss", "time"], [["0", "0.912", "0.900", "00:12"], ["1", "0.5", "0.55", "00:11"]], "Epochs")
            .ToHtml();

        Assert.Contains("<caption>Epochs</caption>", html);
        Assert.Contains("<th>epoch</th><th>train_loss</th><th>valid_loss</th><th>time</th>", html);
        Assert.True(html.IndexOf("0.912", StringComparison.Ordinal) < html.IndexOf("0.55", StringComparison.Ordinal));
        Assert.Equal(8, Regex.Matches(html, "<td class=\"num\">").Count);
    }

    [Fact]
    public void ClassificationReport_MatchesScikitLearnNumbers()
    {
        // cat: 8 right, 2 taken for dog; dog: 9 right, 1 taken for cat.
        var html = new HtmlReport("run").AddClassificationReport(["cat", "dog"], new[,] { { 8, 2 }, { 1, 9 } }).ToHtml();

        string Row(string label) => Regex.Match(html, $"<tr><td>{label}</td>(.*?)</tr>").Groups[1].Value.Replace("<td class=\"num\">", "|").Replace("</td>", "").Replace("<td>", "|");
        Assert.Equal("|0.89|0.80|0.84|10", Row("cat"));   // precision 8/9, recall 8/10
        Assert.Equal("|0.82|0.90|0.86|10", Row("dog"));   // precision 9/11, recall 9/10
        Assert.Equal("|||0.85|20", Row("accuracy"));
        Assert.Equal("|0.85|0.85|0.85|20", Row("macro avg"));
    }

    [Fact]
    public void Mistakes_AreReportedClearly()
    {
        var report = new HtmlReport("run");
        var ragged = Assert.Throws<ArgumentException>(() => report.AddTable(["a", "b"], [["1", "2"], ["3"]], "Epochs"));
        Assert.Contains("Row 1 of table 'Epochs' has 1 cells", ragged.Message);
        Assert.Contains("not PNG", Assert.Throws<ArgumentException>(() => report.AddImage([1, 2, 3], "Loss")).Message);
    }

    [Fact]
    public void Save_WritesOneUtf8FileAndNothingElse()
    {
        using var folder = new TemporaryFolder();

        var path = new HtmlReport("Ünïcode run").AddParagraph("ok").Save(Path.Combine(folder.Path, "report.html"));

        Assert.Single(Directory.GetFiles(folder.Path));
        var text = File.ReadAllText(path);
        Assert.StartsWith("<!DOCTYPE html>", text);
        Assert.Contains("<h1>Ünïcode run</h1>", text);
    }
}
