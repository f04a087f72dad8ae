using System.Text.RegularExpressions;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Training;

/// <summary>fastai's freeze/unfreeze/freeze_to: which parameters train, and that frozen ones really stay put.</summary>
[Collection(SmallMnistCollection.Name)]
public class FreezeTests(SmallMnistFixture fixture)
{
    /// <summary>torchvision's BatchNorm names in a ResNet body: bn1, bn2, ... and the shortcut's downsample.1.</summary>
    private static readonly Regex BodyNorm = new(@"^body\.(bn1|layer\d\.\d+\.(bn\d|downsample\.1))\.(weight|bias)$");

    private static readonly Regex BodyConv = new(@"^body\.(conv1|layer\d\.\d+\.(conv\d|downsample\.0))\.weight$");

    [Fact]
    public void Freeze_LeavesOnlyTheHeadAndBatchNormParametersTrainable()
    {
        using var learner = fixture.NewLearner();
        learner.Freeze();

        var all = learner.Model.named_parameters().Select(p => p.name).ToList();
        var trainable = learner.TrainableParameterNames;
        Assert.Equal(2, learner.FrozenGroups);
        Assert.All(trainable, name => Assert.True(name.StartsWith("head.", StringComparison.Ordinal) || BodyNorm.IsMatch(name), $"{name} is trainable while frozen"));
        Assert.All(all.Where(n => n.StartsWith("head.", StringComparison.Ordinal) || BodyNorm.IsMatch(n)), name => Assert.Contains(name, trainable));
        var convs = all.Where(n => BodyConv.IsMatch(n)).ToList();
        Assert.Equal(1 + 4 * 2 + 3, convs.Count);  // stem, two per block, three projection shortcuts
        Assert.All(convs, name => Assert.DoesNotContain(name, trainable));
        Assert.All(learner.Model.named_parameters(), p => Assert.Equal(trainable.Contains(p.name), p.parameter.requires_grad));
    }

    [Fact]
    public void Freeze_WithoutTrainBatchNorm_LeavesOnlyTheHeadTrainable()
    {
        using var learner = fixture.NewLearner(new VisionLearnerOptions { TrainBatchNorm = false });
        learner.Freeze();
        Assert.All(learner.TrainableParameterNames, name => Assert.StartsWith("head.", name));
        Assert.Equal(learner.Model.named_parameters().Count(p => p.name.StartsWith("head.", StringComparison.Ordinal)), learner.TrainableParameterNames.Count);
    }

    [Fact]
    public void Unfreeze_MakesEveryParameterTrainable()
    {
        using var learner = fixture.NewLearner();
        learner.Freeze();
        learner.Unfreeze();
        Assert.Equal(0, learner.FrozenGroups);
        Assert.Equal(learner.Model.named_parameters().Select(p => p.name).Order(), learner.TrainableParameterNames.Order());
        Assert.All(learner.Model.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void FreezeTo1_FreezesTheStemAndStages1And2_Only()
    {
        using var learner = fixture.NewLearner();
        learner.FreezeTo(1);

        Assert.Equal(1, learner.FrozenGroups);
        var trainable = learner.TrainableParameterNames.ToHashSet();
        foreach (var (name, _) in learner.Model.named_parameters())
        {
            bool early = Regex.IsMatch(name, @"^body\.(conv1|bn1|layer[12])\.");
            bool shouldTrain = !early || BodyNorm.IsMatch(name);
            Assert.True(shouldTrain == trainable.Contains(name), $"{name}: trainable {trainable.Contains(name)}, expected {shouldTrain}");
        }
        Assert.Contains("body.layer3.0.conv1.weight", trainable);
        Assert.DoesNotContain("body.layer2.0.conv1.weight", trainable);
    }

    [Fact]
    public void AFrozenFit_UpdatesTheHeadAndBatchNorm_ButLeavesBodyConvolutionsExactlyAsTheyWere()
    {
        using var learner = fixture.NewLearner();
        learner.Freeze();
        var before = TestTorch.Snapshot(learner.Model);
        learner.Fit(1, 1e-3);
        var after = TestTorch.Snapshot(learner.Model);

        bool Changed(string name) => !before[name].SequenceEqual(after[name]);
        Assert.All(before.Keys.Where(n => BodyConv.IsMatch(n)), name => Assert.False(Changed(name), $"{name} changed while frozen"));
        Assert.True(Changed("head.fc2.weight"));
        Assert.True(Changed("body.bn1.weight"));
        Assert.True(Changed("body.layer1.0.bn2.bias"));
    }

    [Fact]
    public void APretrainedVisionLearner_StartsFrozen()
    {
        using var learner = Learner.Vision(fixture.Data, new VisionLearnerOptions { ShowProgress = false, Device = MLNet.FastAi.Runtime.ComputeDevice.Cpu });
        Assert.True(learner.IsPretrained);
        Assert.Equal(2, learner.FrozenGroups);
        Assert.DoesNotContain("body.layer4.1.conv2.weight", learner.TrainableParameterNames);
        Assert.Contains("body.layer4.1.bn2.weight", learner.TrainableParameterNames);
        Assert.Contains("head.fc2.weight", learner.TrainableParameterNames);
    }
}
