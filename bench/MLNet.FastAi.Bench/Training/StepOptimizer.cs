using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Training;

/// <summary>The optimizer of a bare training loop: the package's flat AdamW or TorchSharp's per-parameter one.</summary>
internal interface IStepOptimizer : IDisposable
{
    string Name { get; }

    void Step();

    void ZeroGrad();
}

/// <summary>The learner's own <see cref="FlatAdamW"/>, built over its parameter groups as <c>Fit</c> builds it.</summary>
internal sealed class FlatStep(Learner learner) : IStepOptimizer
{
    private readonly FlatAdamW _optimizer = learner.Optimizer;

    public string Name => "FlatAdamW";

    public void Step() => _optimizer.Step();

    public void ZeroGrad() => _optimizer.ZeroGrad();

    // The learner owns the optimizer.
    public void Dispose() { }
}

/// <summary>
/// TorchSharp's <c>torch.optim.AdamW</c> over the trainable parameters, with fastai's hyper-parameters (β 0.9/0.99,
/// ε 1e-5, decoupled weight decay 0.01): the same arithmetic as <see cref="FlatAdamW"/>, a few kernels per parameter.
/// </summary>
internal sealed class TorchAdamWStep : IStepOptimizer
{
    private readonly optim.Optimizer _optimizer;

    public TorchAdamWStep(IEnumerable<TorchSharp.Modules.Parameter> trainable, HyperParameters hypers)
    {
        _optimizer = optim.AdamW(trainable.ToList(), lr: hypers.LearningRate, beta1: hypers.Momentum, beta2: hypers.SquareMomentum,
            eps: hypers.Epsilon, weight_decay: hypers.WeightDecay);
    }

    public string Name => "torch.optim.AdamW";

    public void Step()
    {
        using var scope = NewDisposeScope();
        _optimizer.step();
    }

    public void ZeroGrad() => _optimizer.zero_grad();

    public void Dispose() => _optimizer.Dispose();
}
