using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>
/// A learner's loss (fastai's <c>loss_func</c>): of a batch's predictions (logits) against its targets, reduced as
/// asked (<see cref="nn.Reduction.None"/> gives one loss per image, what <c>GetPreds</c> and top losses read).
/// </summary>
public delegate Tensor LossFunction(Tensor predictions, Tensor targets, nn.Reduction reduction);
