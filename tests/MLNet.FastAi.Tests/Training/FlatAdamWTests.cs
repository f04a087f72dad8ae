using MLNet.FastAi.Runtime;
using MLNet.FastAi.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>The flattened optimizer must take exactly the steps of PyTorch-semantics AdamW with fastai's settings.</summary>
public class FlatAdamWTests
{
    public FlatAdamWTests() => TorchRuntime.EnsureInitialized();

    [Fact]
    public void Steps_MatchTorchSharpAdamW_WithFastAiHyperParameters()
    {
        manual_seed(5);
        using var ours = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3));
        using var reference = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3));
        reference.load_state_dict(ours.state_dict());
        var named = ours.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        // Two groups, and weight decay only on weights (fastai's wd_bn_bias=False).
        var groups = new List<IReadOnlyList<(string, Parameter)>> { named.Take(2).ToList(), named.Skip(2).ToList() };
        using var flat = new FlatAdamW(groups, name => !name.EndsWith("bias"), new HyperParameters { LearningRate = 1e-2, WeightDecay = 0.1 });
        flat.Hypers[1].LearningRate = 3e-2;

        var refParams = reference.named_parameters().ToList();
        var paramGroups = new[]
        {
            new AdamW.ParamGroup(new[] { refParams[0].parameter }, new AdamW.Options { LearningRate = 1e-2, weight_decay = 0.1 }),
            new AdamW.ParamGroup(new[] { refParams[1].parameter }, new AdamW.Options { LearningRate = 1e-2, weight_decay = 0 }),
            new AdamW.ParamGroup(new[] { refParams[2].parameter }, new AdamW.Options { LearningRate = 3e-2, weight_decay = 0.1 }),
            new AdamW.ParamGroup(new[] { refParams[3].parameter }, new AdamW.Options { LearningRate = 3e-2, weight_decay = 0 }),
        };
        using var adamw = optim.AdamW(paramGroups, lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-5);

        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(4, 6);
            flat.ZeroGrad();
            ours.call(x).square().sum().backward();
            flat.Step();
            adamw.zero_grad();
            reference.call(x).square().sum().backward();
            adamw.step();
        }
        foreach (var ((name, a), (_, b)) in ours.named_parameters().Zip(reference.named_parameters()))
        {
            double diff = (a - b).abs().max().item<float>();
            // Elementwise updates of weights below 1 in size: the two optimizers' few roundings per step (≈ 6e-8
            // each, a fused multiply-add or not) add up to far less over these steps.
            Assert.True(diff < 1e-6, $"{name} differs by {diff}");
        }
        Assert.Equal(5, flat.StepCount);
    }

    [Fact]
    public void Parameters_AreViewsOfOneBuffer_AndFrozenOnesAreLeftAlone()
    {
        using var model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2));
        var named = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        named[0].parameter.requires_grad = false;
        var before = named.Select(p => p.parameter.clone()).ToList();
        using var flat = new FlatAdamW(new[] { (IReadOnlyList<(string, Parameter)>)named }, _ => true, new HyperParameters { LearningRate = 0.1 });

        // The three trainable parameters (4 + 8 + 2 values) now live side by side in one 14-float buffer.
        var trainable = named.Skip(1).Select(p => p.parameter).ToList();
        var storages = trainable.Select(p => p.storage<float>()).ToList();
        Assert.Single(storages.Select(st => st.data_ptr()).Distinct());
        Assert.All(storages, st => Assert.Equal(14UL * sizeof(float), st.nbytes()));
        Assert.Equal(new long[] { 0, 4, 12 }, trainable.Select(p => p.storage_offset()));
        Assert.NotEqual(storages[0].data_ptr(), named[0].parameter.storage<float>().data_ptr());

        using (var scope = NewDisposeScope())
        {
            model.call(randn(2, 3)).sum().backward();
            flat.Step();
        }
        Assert.True(named[0].parameter.equal(before[0]).all().item<bool>(), "a frozen parameter must not move");
        for (int i = 1; i < named.Count; i++)
            Assert.False(named[i].parameter.equal(before[i]).all().item<bool>(), $"{named[i].name} did not move in the step");
        Assert.Single(flat.State(), s => s.Name == named[1].name);
        Assert.Equal(3, flat.State().Count());
        Assert.NotNull(named[1].parameter.grad);
    }
}
