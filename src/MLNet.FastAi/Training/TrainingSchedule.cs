namespace MLNet.FastAi.Training;

/// <summary>How a training run is scheduled: fastai's three ways to fit.</summary>
public enum TrainingSchedule
{
    /// <summary>fastai's <c>fine_tune</c>: the body frozen for the frozen epochs, then everything (the default).</summary>
    FineTune,
    /// <summary>fastai's <c>fit_one_cycle</c>; a pretrained body stays frozen unless unfrozen.</summary>
    OneCycle,
    /// <summary>fastai's <c>fit</c>: a constant learning rate; a pretrained body stays frozen unless unfrozen (the blog's <c>fit(5, 1e-3)</c>).</summary>
    Constant,
}
