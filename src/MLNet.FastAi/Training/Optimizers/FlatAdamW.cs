using MLNet.FastAi.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training.Optimizers;

/// <summary>
/// fastai's Adam (decoupled weight decay, β = 0.9/0.99, ε = 1e-5, debiased moments) as a handful of large tensor
/// operations per step instead of a set per parameter.
/// </summary>
/// <remarks>
/// TorchSharp's optimizers update one parameter tensor at a time, so a ResNet-18 step launches hundreds of small
/// kernels; at small images that step, not the convolutions, bounds throughput. Here the trainable parameters of each
/// (group, decays-or-not) bucket are moved into one contiguous buffer that the parameters become views of
/// (<c>Tensor.set_</c>), and their gradients are views of a second buffer that backward accumulates into. A step is
/// then about eight kernels per bucket, whatever the number of parameters. Buckets are rebuilt, and moment state
/// cleared, when the set of trainable parameters changes (freeze/unfreeze), as fastai clears its optimizer state then.
/// Nothing here synchronizes with the host.
/// </remarks>
internal sealed class FlatAdamW : IDisposable
{
    private readonly IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> _groups;
    private readonly Func<string, bool> _decays;
    private readonly List<Bucket> _buckets = new();

    /// <param name="groups">Parameter groups (with their state-dict names), e.g. fastai's body/body/head split.</param>
    /// <param name="decays">Whether a parameter gets weight decay (fastai: not BatchNorm weights nor biases).</param>
    /// <param name="defaults">Initial hyper-parameters of every group.</param>
    public FlatAdamW(IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> groups, Func<string, bool> decays, HyperParameters defaults)
    {
        _groups = groups;
        _decays = decays;
        Hypers = groups.Select(_ => defaults.Clone()).ToList();
        Rebuild();
    }

    /// <summary>Hyper-parameters per group; schedules edit them between steps.</summary>
    public IReadOnlyList<HyperParameters> Hypers { get; }

    /// <summary>Number of steps taken since the state was last cleared.</summary>
    public long StepCount { get; private set; }

    /// <summary>Flattens the currently trainable parameters into buckets and clears the moment state.</summary>
    public void Rebuild()
    {
        Release();
        StepCount = 0;
        for (int g = 0; g < _groups.Count; g++)
            foreach (bool decay in new[] { true, false })
            {
                var members = _groups[g].Where(p => p.Parameter.requires_grad && _decays(p.Name) == decay).ToList();
                if (members.Count > 0) _buckets.Add(new Bucket(g, decay, members));
            }
    }

    /// <summary>Zeroes every gradient buffer (one kernel per bucket; gradients stay allocated views).</summary>
    public void ZeroGrad()
    {
        foreach (var b in _buckets) b.Gradients.zero_();
    }

    /// <summary>The global L2 norm of all gradients, as a device scalar (no host synchronization).</summary>
    public Tensor GradientNorm()
    {
        var squares = _buckets.Select(b => b.Gradients.square().sum()).ToList();
        return squares.Count == 0 ? zeros(1) : stack(squares).sum().sqrt();
    }

    /// <summary>Scales gradients so their global norm is at most <paramref name="maxNorm"/> (fastai's GradientClip).</summary>
    public void ClipGradientNorm(double maxNorm)
    {
        if (_buckets.Count == 0) return;
        using var scope = NewDisposeScope();
        using Scalar epsilon = 1e-6.ToScalar(), one = 1.0.ToScalar();
        var factor = (maxNorm / GradientNorm().add_(epsilon, KeptScalars.One)).clamp_max_(one);
        foreach (var b in _buckets) b.Gradients.mul_(factor);
    }

    /// <summary>One Adam step on every bucket with the current hyper-parameters.</summary>
    public void Step()
    {
        StepCount++;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var b in _buckets)
        {
            var h = Hypers[b.Group];
            double debias1 = 1 - Math.Pow(h.Momentum, StepCount);
            double debias2 = 1 - Math.Pow(h.SquareMomentum, StepCount);
            // Scalars held for the whole update (KeptScalars says why).
            using Scalar decay = (1 - h.LearningRate * h.WeightDecay).ToScalar(), beta1 = h.Momentum.ToScalar(),
                gradientShare = (1 - h.Momentum).ToScalar(), beta2 = h.SquareMomentum.ToScalar(),
                squareShare = (1 - h.SquareMomentum).ToScalar(), debias = debias2.ToScalar(), epsilon = h.Epsilon.ToScalar(),
                step = (-h.LearningRate / debias1).ToScalar();
            if (b.Decays && h.WeightDecay != 0) b.Values.mul_(decay);
            b.Average.mul_(beta1).add_(b.Gradients, gradientShare);
            b.SquareAverage.mul_(beta2).addcmul_(b.Gradients, b.Gradients, squareShare);
            var denominator = b.SquareAverage.div(debias).sqrt_().add_(epsilon, KeptScalars.One);
            b.Values.addcdiv_(b.Average, denominator, step);
        }
    }

    /// <summary>
    /// The moment state of every trainable parameter, by name: views, made anew on each call (call it inside a dispose
    /// scope; copy before keeping).
    /// </summary>
    public IEnumerable<(string Name, Tensor Average, Tensor SquareAverage)> State() =>
        _buckets.SelectMany(b => b.Members.Select((m, i) => (m.Name, b.ViewOf(b.Average, i), b.ViewOf(b.SquareAverage, i))));

    /// <summary>Restores moment state saved by <see cref="State"/>; parameters absent from it start from zero.</summary>
    public void LoadState(IReadOnlyDictionary<string, (Tensor Average, Tensor SquareAverage)> state, long stepCount)
    {
        using var scope = NewDisposeScope();  // frees the views made to copy into
        using var _ = no_grad();
        foreach (var b in _buckets)
            for (int i = 0; i < b.Members.Count; i++)
                if (state.TryGetValue(b.Members[i].Name, out var s))
                {
                    b.ViewOf(b.Average, i).copy_(s.Average);
                    b.ViewOf(b.SquareAverage, i).copy_(s.SquareAverage);
                }
        StepCount = stepCount;
    }

    public void Dispose() => Release();

    private void Release()
    {
        foreach (var b in _buckets) b.Dispose();
        _buckets.Clear();
    }

    /// <summary>Trainable parameters of one group that share a weight-decay rule, stored contiguously.</summary>
    private sealed class Bucket : IDisposable
    {
        private readonly long[] _offsets;

        public Bucket(int group, bool decays, List<(string Name, Parameter Parameter)> members)
        {
            Group = group;
            Decays = decays;
            Members = members;
            _offsets = new long[members.Count + 1];
            for (int i = 0; i < members.Count; i++) _offsets[i + 1] = _offsets[i] + members[i].Parameter.numel();
            var first = members[0].Parameter;
            using var _ = no_grad();
            Values = empty(_offsets[^1], dtype: first.dtype, device: first.device).DetachFromDisposeScope();
            Gradients = zeros(_offsets[^1], dtype: first.dtype, device: first.device).DetachFromDisposeScope();
            Average = zeros_like(Values).DetachFromDisposeScope();
            SquareAverage = zeros_like(Values).DetachFromDisposeScope();
            for (int i = 0; i < members.Count; i++)
            {
                var p = members[i].Parameter;
                var view = ViewOf(Values, i);
                view.copy_(p);
                p.set_(view);
                // Backward accumulates into an existing gradient in place, so this view keeps receiving them.
                p.grad = ViewOf(Gradients, i);
            }
        }

        public int Group { get; }

        public bool Decays { get; }

        public List<(string Name, Parameter Parameter)> Members { get; }

        public Tensor Values { get; }

        public Tensor Gradients { get; }

        public Tensor Average { get; }

        public Tensor SquareAverage { get; }

        public Tensor ViewOf(Tensor flat, int member) =>
            flat.narrow(0, _offsets[member], _offsets[member + 1] - _offsets[member]).view(Members[member].Parameter.shape);

        public void Dispose()
        {
            // Parameters keep their storage alive through their own views; only the extra buffers go.
            foreach (var (_, p) in Members) p.grad = null;
            Gradients.Dispose();
            Average.Dispose();
            SquareAverage.Dispose();
            Values.Dispose();
        }
    }
}
