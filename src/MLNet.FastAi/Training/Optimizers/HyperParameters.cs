namespace MLNet.FastAi.Training.Optimizers;

/// <summary>The hyper-parameters of one parameter group (fastai's <c>opt.hypers[i]</c>), changed by schedules between steps.</summary>
public sealed class HyperParameters
{
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Momentum: Adam's β1 (fastai <c>mom</c>, 0.9).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Adam's β2 (fastai <c>sqr_mom</c>, 0.99).</summary>
    public double SquareMomentum { get; set; } = 0.99;

    /// <summary>Adam's ε (fastai 1e-5).</summary>
    public double Epsilon { get; set; } = 1e-5;

    /// <summary>Decoupled weight decay (fastai 0.01, true weight decay as in AdamW).</summary>
    public double WeightDecay { get; set; } = 0.01;

    internal HyperParameters Clone() => (HyperParameters)MemberwiseClone();
}
