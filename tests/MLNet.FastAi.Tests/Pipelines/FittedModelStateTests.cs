using Microsoft.ML;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Tests.Support;
using static MLNet.FastAi.Tests.Pipelines.TinyPipelines;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// A fitted model keeps what scoring needs — the network, classes and transforms — and frees the decoded training and
/// validation images and the optimizer's state when Fit ends, unless asked to keep them; training on stays possible
/// by an explicit call.
/// </summary>
public sealed class FittedModelStateTests
{
    [Fact]
    public void AfterFit_TheModelScores_WithoutItsTrainingImagesOrOptimizerState()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(6)));
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(Options()).Fit(keyed);

        Assert.Empty(model.Learner.Data.CacheModes);  // no split holds decoded images
        Assert.False(model.Learner.HoldsOptimizerState);
        Assert.Equal(Digits, model.Classes);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(keyed));
        Assert.Equal(18, metrics.ConfusionMatrix.Counts.Sum(row => row.Sum()));

        // Training on is explicit, and costs the decoding again: the image files are read anew.
        model.Learner.Fit(1, 1e-3);
        Assert.Equal(2, model.Learner.Recorder.History.Count);
        Assert.NotEmpty(model.Learner.Data.CacheModes);
    }

    [Fact]
    public void KeepTrainingState_KeepsTheDecodedImagesAndTheOptimizer()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(6)));
        var options = Options();
        options.KeepTrainingState = true;
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(keyed);

        Assert.Equal(["train", "valid"], model.Learner.Data.CacheModes.Keys.Order());
        Assert.True(model.Learner.HoldsOptimizerState);
    }

    [Fact]
    public void ImagesFromAColumn_ReleasedAtTheEndOfFit_AreDecodedAgainFromTheirView()
    {
        var ml = new MLContext(seed: 1);
        var keyed = KeyMapping(ml).Transform(ml.Data.LoadFromEnumerable(Rows(6)));
        var bytes = ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath").Fit(keyed).Transform(keyed);
        var options = Options();
        options.FeatureColumnName = "Image";
        using var model = ml.MulticlassClassification.Trainers.FastAiCnn(options).Fit(bytes);

        Assert.Equal(18, ml.MulticlassClassification.Evaluate(model.Transform(bytes)).ConfusionMatrix.Counts.Sum(row => row.Sum()));
        Assert.Equal(0, model.Learner.Data.DecodedSplitCount);
        model.Learner.Fit(1, 1e-3);
        Assert.Equal(2, model.Learner.Recorder.History.Count);
        Assert.Equal(2, model.Learner.Data.DecodedSplitCount);
        Assert.All(model.Learner.Data.Train.Paths, name => Assert.Matches("^row [0-9]+ of the training data$", name));
    }
}
