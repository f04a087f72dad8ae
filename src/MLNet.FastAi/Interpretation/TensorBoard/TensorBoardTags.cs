namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>
/// The scalar tags fastai v2's <c>TensorBoardCallback</c> writes, so runs from this package and from fastai can be
/// compared in one TensorBoard. fastai logs every value with step = the number of training batches seen so far
/// (<c>train_iter</c>), the per-epoch values included.
/// </summary>
/// <remarks>
/// After each training batch: <see cref="TrainLoss"/> (the smoothed loss), then one scalar per optimizer
/// hyper-parameter and parameter group, named <c>{hyper}_{group}</c>: <see cref="LearningRate"/>,
/// <see cref="Momentum"/>, <see cref="WeightDecay"/>, and for Adam also <c>sqr_mom_{group}</c> and <c>eps_{group}</c>.
/// After each epoch: <see cref="ValidLoss"/> and each metric under its own name (for example <c>accuracy</c>,
/// <c>error_rate</c>), plus a figure of sample predictions under <see cref="SampleResults"/>.
/// </remarks>
internal static class TensorBoardTags
{
    /// <summary>The smoothed training loss, logged after every batch.</summary>
    public const string TrainLoss = "train_loss";

    /// <summary>The validation loss, logged after every epoch.</summary>
    public const string ValidLoss = "valid_loss";

    /// <summary>The image of sample predictions fastai logs after every epoch.</summary>
    public const string SampleResults = "Sample results";

    /// <summary>The learning rate of parameter group <paramref name="group"/>: <c>lr_0</c>, <c>lr_1</c>, ...</summary>
    public static string LearningRate(int group) => Hyperparameter("lr", group);

    /// <summary>The momentum (SGD momentum or Adam beta1) of parameter group <paramref name="group"/>: <c>mom_0</c>, ...</summary>
    public static string Momentum(int group) => Hyperparameter("mom", group);

    /// <summary>The weight decay of parameter group <paramref name="group"/>: <c>wd_0</c>, ...</summary>
    public static string WeightDecay(int group) => Hyperparameter("wd", group);

    /// <summary>Any optimizer hyper-parameter of a parameter group, named as fastai names it: <c>{name}_{group}</c>.</summary>
    public static string Hyperparameter(string name, int group)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        return $"{name}_{group}";
    }
}
