using static TorchSharp.torch;

namespace MLNet.FastAi.Data.Batching;

/// <summary>A mini-batch on the training device.</summary>
/// <param name="Images">Float [B, 3, H, W], augmented (training only) and normalized.</param>
/// <param name="Labels">Int64 [B] class indices (-1 where unknown).</param>
/// <param name="Indices">Int64 [B] positions of the images in their split.</param>
internal readonly record struct Batch(Tensor Images, Tensor Labels, Tensor Indices);
