using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Tests.Support;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// The MLContext's seed seeds the trainer when the options give none, as ML.NET's trainers take theirs from the
/// context. Bit-for-bit comparisons of training runs: alone in the process-wide randomness collection.
/// </summary>
[Collection(ProcessWideRandomness.Name)]
public class MLContextSeedTests
{
    public MLContextSeedTests() => TestTorch.UseOneThread();

    /// <summary>Trains the tiny pipeline in a new context; returns the validation scores and the seed the log reports.</summary>
    private static (float[][] Scores, int Seed, List<string> Log) Run(int? contextSeed, int? optionsSeed = null)
    {
        var ml = new MLContext(contextSeed);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var keys = KeyMapping(ml);
        var train = keys.Transform(ml.Data.LoadFromEnumerable(Rows(6)));
        var valid = keys.Transform(ml.Data.LoadFromEnumerable(Rows(3, skip: 6)));
        var options = Options(seed: optionsSeed);
        options.ValidationFraction = 0.25;

        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(train);

        var line = Assert.Single(log, m => m.Contains("FastAiCnn: seed "));
        int seed = int.Parse(Regex.Match(line, @"FastAiCnn: seed (-?\d+)").Groups[1].Value);
        return (model.Transform(valid).GetColumn<float[]>("Score").ToArray(), seed, log);
    }

    [Fact]
    public void ASeededContext_GivesTheSameModelEveryRun_AndAnotherSeedAnotherModel()
    {
        var first = Run(contextSeed: 5);
        var second = Run(contextSeed: 5);
        var other = Run(contextSeed: 6);

        Assert.Equal(first.Seed, second.Seed);
        Assert.Equal(first.Scores, second.Scores);
        Assert.NotEqual(first.Seed, other.Seed);
        Assert.NotEqual(first.Scores, other.Scores);
        Assert.Contains(first.Log, m => m.Contains("drawn from the MLContext's random source, seeded with 5"));
    }

    [Fact]
    public void AnUnseededContext_DrawsADifferentSeedEachRun_AndTheLoggedSeed_RepeatsTheRun()
    {
        var first = Run(contextSeed: null);
        var second = Run(contextSeed: null);

        Assert.NotEqual(first.Seed, second.Seed);
        Assert.Contains(first.Log, m => m.Contains("unseeded MLContext: runs differ; set FastAiCnnOptions.Seed"));

        var repeated = Run(contextSeed: null, optionsSeed: first.Seed);
        Assert.Equal(first.Seed, repeated.Seed);
        Assert.Equal(first.Scores, repeated.Scores);
        Assert.Contains(repeated.Log, m => m.Contains($"seed {first.Seed} (FastAiCnnOptions.Seed)"));
    }
}
