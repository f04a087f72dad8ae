using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Training;

/// <summary>fastai's lr_find: an exponential sweep of learning rates, a suggestion, early stop on divergence, and no trace left on the learner.</summary>
[Collection(SmallMnistCollection.Name)]
public class LrFindTests(SmallMnistFixture fixture)
{
    [Fact]
    public void LrFind_RecordsOneExponentiallyGrowingRatePerIteration_SuggestsRatesInRange_AndRestoresWeightsAndOptimizerExactly()
    {
        using var learner = fixture.NewLearner();
        learner.Fit(1, 1e-3);  // so the optimizer has moments and a step count worth restoring
        var weights = TestTorch.Snapshot(learner.Model);
        var moments = OptimizerState(learner);
        long steps = learner.Optimizer.StepCount;
        var hypers = learner.Hypers.Select(h => (h.LearningRate, h.Momentum, h.WeightDecay)).ToList();
        Assert.Equal(SmallMnistFixture.TrainBatches, steps);

        const double start = 1e-6, end = 1;
        const int iterations = 20;
        var result = learner.LrFind(start, end, iterations, stopOnDivergence: false, suggestions: new[] { "valley", "minimum", "steep", "slide" });

        Assert.Equal(iterations, result.LearningRates.Count);
        Assert.Equal(iterations, result.Losses.Count);
        for (int i = 0; i < iterations; i++)
        {
            double expected = start * Math.Pow(end / start, (double)i / iterations);
            Assert.True(Math.Abs(result.LearningRates[i] - expected) <= 1e-9 * expected, $"lr {i}: {result.LearningRates[i]} vs {expected}");
        }
        Assert.Equal(new[] { "valley", "minimum", "steep", "slide" }, result.Suggestions.Select(s => s.Name));
        Assert.Equal(result.Suggestions[0].LearningRate, result.Suggested);
        Assert.InRange(result.Suggested, start, end);
        Assert.All(result.Suggestions, s => Assert.InRange(s.PointLearningRate, start, end));
        Assert.Equal(result.Suggestions[1].PointLearningRate / 10, result.Suggestions[1].LearningRate, 15);

        Assert.Equal(0, TestTorch.MaxDifference(weights, TestTorch.Snapshot(learner.Model)));
        var momentsAfter = OptimizerState(learner);
        Assert.Equal(moments.Keys.Order(), momentsAfter.Keys.Order());
        Assert.All(moments, m => Assert.Equal(m.Value, momentsAfter[m.Key]));
        Assert.Equal(steps, learner.Optimizer.StepCount);
        Assert.Equal(hypers, learner.Hypers.Select(h => (h.LearningRate, h.Momentum, h.WeightDecay)).ToList());
        Assert.False(learner.IsFitting);
    }

    [Fact]
    public void LrFind_StopsEarlyOnceTheSmoothedLossPassesFourTimesItsBest_AndStillRestoresTheWeights()
    {
        using var learner = fixture.NewLearner(data: fixture.Mini);
        var weights = TestTorch.Snapshot(learner.Model);

        var result = learner.LrFind(1, 1e6, iterations: 30);

        Assert.True(result.Losses.Count < 30, $"ran all {result.Losses.Count} iterations: {string.Join(", ", result.Losses)}");
        double best = result.Losses.Where(double.IsFinite).Min();
        double last = result.Losses[^1];
        Assert.True(double.IsNaN(last) || last > 4 * best, $"stopped at loss {last} with best {best}");
        Assert.True(result.Losses.Take(result.Losses.Count - 1).All(l => l <= 4 * best), "it should stop at the first divergent loss, not later");
        Assert.InRange(result.Suggested, 1, 1e6);
        Assert.Equal(0, TestTorch.MaxDifference(weights, TestTorch.Snapshot(learner.Model)));
    }

    private static Dictionary<string, float[]> OptimizerState(Learner learner) =>
        learner.Optimizer.State().SelectMany(s => new[]
        {
            (s.Name + "#avg", s.Average.contiguous().data<float>().ToArray()),
            (s.Name + "#sqr", s.SquareAverage.contiguous().data<float>().ToArray()),
        }).ToDictionary(t => t.Item1, t => t.Item2);
}
