namespace MLNet.FastAi.Cli.Tests;

[Collection(TrainedModelCollection.Name)] // TorchSharp's random generator is global: one training at a time keeps runs reproducible.
public sealed class LrFindTests
{
    [Fact]
    public void LrFind_PrintsTheFourSuggestions_AndPlotsTheCurve()
    {
        using var folder = new TemporaryFolder();
        string data = TestData.MnistSlice(folder["mnist"], [0, 1], trainPerDigit: 48, testPerDigit: 8);
        string plot = folder["plots/lr.png"];

        var run = Cli.Run("lr-find", data, "--train", "training", "--valid", "testing", "--batch-size", "8", "--iterations", "12", "--seed", "3", "--plot", plot);

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var method in new[] { "valley", "minimum", "steep", "slide" })
            Assert.Matches($@"(?m)^\s+{method}\s+\d\.\d\de[-+]\d\d\s*$", run.Out);
        Pngs.AssertNonTrivial(plot);
    }
}
