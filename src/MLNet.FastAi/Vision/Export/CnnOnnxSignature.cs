using MLNet.FastAi.Onnx;

namespace MLNet.FastAi.Vision.Export;

/// <summary>
/// The names and shapes an exported classifier graph presents. Input: FLOAT planar RGB pixels in 0..255, what ML.NET's
/// <c>ExtractPixels</c> produces. Outputs: softmax probabilities, plus whichever predicted-class outputs are named.
/// </summary>
/// <param name="PixelsInput">Name of the pixel input.</param>
/// <param name="ScoreOutput">Name of the probabilities output.</param>
/// <param name="PredictedIndexOutput">INT64 index of the most probable class, or null for none.</param>
/// <param name="PredictedLabelOutput">STRING name of the most probable class, or null for none.</param>
/// <param name="PredictedOneHotOutput">FLOAT one-hot vector of the most probable class, or null for none.</param>
/// <param name="Batched">
/// True: a symbolic batch axis leads every tensor (<c>[batch, 3, H, W]</c> in, <c>[batch, K]</c> out). False: exactly
/// one image (<c>[1, 3, H, W]</c> in, <c>[K]</c> out), the row-at-a-time shape ML.NET's OnnxTransformer feeds and reads.
/// </param>
internal sealed record CnnOnnxSignature(
    string PixelsInput,
    string ScoreOutput,
    string? PredictedIndexOutput,
    string? PredictedLabelOutput,
    string? PredictedOneHotOutput,
    bool Batched)
{
    /// <summary>For ONNX Runtime users and anyone else: batches, class index and class name.</summary>
    public static CnnOnnxSignature Standalone { get; } = new("pixels", "Score", "PredictedIndex", "PredictedLabel", null, Batched: true);

    /// <summary>
    /// For the stock ML.NET scoring chain: one row, with names that cannot collide with a user's columns (the graph's
    /// input and output names become ML.NET column names). ML.NET's OnnxTransformer cannot read rank-0 outputs, so the
    /// predicted class leaves as a one-hot vector that a stock ML.NET component turns into a key.
    /// </summary>
    public static CnnOnnxSignature MLNetRow { get; } = new("__FastAiPixels", "__FastAiScore", null, null, "__FastAiPredictedOneHot", Batched: false);
}
