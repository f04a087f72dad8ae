using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// The second moments <c>E[p pᵀ]</c> of the patches a convolution reads from its input (each patch flattened as the
/// convolution's weights are: channel, row, column), over a sample of positions in every calibration image.
/// </summary>
/// <remarks>
/// The network's first convolution reads three colour channels through a 7×7 window: 147 values a patch, a 147×147
/// matrix. A sample of positions per image is enough to estimate it, and keeps 224-px calibration cheap.
/// </remarks>
internal sealed class PatchMoments
{
    /// <summary>Positions sampled from each image, evenly spread.</summary>
    private const int PositionsPerImage = 256;

    private readonly int _channels, _kernelHeight, _kernelWidth, _strideY, _strideX, _padTop, _padLeft;
    private readonly double[] _sums;
    private readonly float[] _padding;
    private long _patches;

    private PatchMoments(int channels, long[] kernel, long[] strides, long[] pads, float[] padding)
    {
        _padding = padding;
        (_channels, _kernelHeight, _kernelWidth) = (channels, (int)kernel[0], (int)kernel[1]);
        (_strideY, _strideX, _padTop, _padLeft) = ((int)strides[0], (int)strides[1], (int)pads[0], (int)pads[1]);
        Size = channels * _kernelHeight * _kernelWidth;
        _sums = new double[Size * Size];
    }

    /// <summary>Values in a patch: the convolution's weights per output channel.</summary>
    public int Size { get; }

    /// <summary>
    /// The moments for <paramref name="conv"/>, a 2-D convolution of <paramref name="channels"/> channels, reading
    /// images padded with <paramref name="padding"/> (a value per channel).
    /// </summary>
    public static PatchMoments For(NodeProto conv, int channels, float[] padding)
    {
        long[] Ints(string name, long fallback, int count) =>
            OnnxAttribute.Find(conv, name) is { } a ? a.Ints.ToArray() : Enumerable.Repeat(fallback, count).ToArray();
        long[] kernel = OnnxAttribute.Find(conv, "kernel_shape")?.Ints.ToArray()
            ?? throw new InvalidOperationException($"Convolution '{conv.Name}' has no kernel_shape.");
        if (kernel.Length != 2 || Ints("dilations", 1, 2).Any(d => d != 1) || (OnnxAttribute.Find(conv, "group")?.I ?? 1) != 1)
            throw new NotSupportedException($"Convolution '{conv.Name}': patch moments are for ungrouped, undilated 2-D convolutions.");
        return new PatchMoments(channels, kernel, Ints("strides", 1, 2), Ints("pads", 0, 4), padding);
    }

    /// <summary>Adds the patches of <paramref name="count"/> images <c>[count, channels, height, width]</c>.</summary>
    public void Add(ReadOnlySpan<float> images, int count, int height, int width)
    {
        int outHeight = (height + 2 * _padTop - _kernelHeight) / _strideY + 1;
        int outWidth = (width + 2 * _padLeft - _kernelWidth) / _strideX + 1;
        int positions = outHeight * outWidth;
        int step = Math.Max(1, (positions + PositionsPerImage - 1) / PositionsPerImage);
        var patch = new double[Size];
        for (int image = 0; image < count; image++)
        {
            var planes = images.Slice(image * _channels * height * width, _channels * height * width);
            for (int position = image % step; position < positions; position += step)
            {
                int top = position / outWidth * _strideY - _padTop, left = position % outWidth * _strideX - _padLeft;
                int i = 0;
                for (int c = 0; c < _channels; c++)
                    for (int ky = 0; ky < _kernelHeight; ky++)
                        for (int kx = 0; kx < _kernelWidth; kx++, i++)
                        {
                            int y = top + ky, x = left + kx;
                            patch[i] = y >= 0 && y < height && x >= 0 && x < width ? planes[(c * height + y) * width + x] : _padding[c];
                        }
                for (int r = 0; r < Size; r++)
                {
                    double pr = patch[r];
                    if (pr == 0) continue;
                    var row = _sums.AsSpan(r * Size, Size);
                    for (int col = r; col < Size; col++) row[col] += pr * patch[col];
                }
                _patches++;
            }
        }
    }

    /// <summary><c>E[p pᵀ]</c>, row-major <see cref="Size"/> × <see cref="Size"/>.</summary>
    public double[] Moments()
    {
        if (_patches == 0) throw new InvalidOperationException("No patches were seen.");
        var moments = new double[Size * Size];
        for (int r = 0; r < Size; r++)
            for (int c = r; c < Size; c++)
                moments[r * Size + c] = moments[c * Size + r] = _sums[r * Size + c] / _patches;
        return moments;
    }
}
