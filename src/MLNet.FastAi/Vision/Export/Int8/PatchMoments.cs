using MLNet.FastAi.Onnx;
using MLNet.FastAi.Onnx.Proto;

namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// The first and second moments <c>E[p]</c>, <c>E[p pᵀ]</c> of the patches a convolution reads from its input (each
/// patch flattened as the convolution's weights are: channel, row, column), over a sample of positions in every
/// calibration image.
/// </summary>
/// <remarks>
/// The network's first convolution reads three colour channels through a 7×7 window: 147 values a patch, a 147×147
/// matrix. A sample of positions per image is enough to estimate it, and keeps 224-px calibration cheap.
/// </remarks>
internal sealed class PatchMoments
{
    /// <summary>Positions sampled from each image, evenly spread.</summary>
    private const int PositionsPerImage = 256;

    private readonly int _channels, _kernelHeight, _kernelWidth, _strideY, _strideX, _padTop, _padLeft, _padBottom, _padRight;
    private readonly double[] _sums, _products;
    private readonly float[] _padding;
    private long _patches, _images;

    private PatchMoments(int channels, long[] kernel, long[] strides, long[] pads, float[] padding)
    {
        _padding = padding;
        (_channels, _kernelHeight, _kernelWidth) = (channels, (int)kernel[0], (int)kernel[1]);
        (_strideY, _strideX) = ((int)strides[0], (int)strides[1]);
        (_padTop, _padLeft, _padBottom, _padRight) = ((int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]);
        Size = channels * _kernelHeight * _kernelWidth;
        _sums = new double[Size];
        _products = new double[Size * Size];
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
        int paddedHeight = height + _padTop + _padBottom, paddedWidth = width + _padLeft + _padRight;
        if (paddedHeight < _kernelHeight || paddedWidth < _kernelWidth)
            throw new ArgumentException($"A {height}×{width} image, padded, is smaller than the {_kernelHeight}×{_kernelWidth} kernel.");
        int outHeight = (paddedHeight - _kernelHeight) / _strideY + 1;
        int outWidth = (paddedWidth - _kernelWidth) / _strideX + 1;
        int positions = outHeight * outWidth;
        int step = Math.Max(1, (positions + PositionsPerImage - 1) / PositionsPerImage);
        var patch = new double[Size];
        for (int image = 0; image < count; image++, _images++)
        {
            var planes = images.Slice(image * _channels * height * width, _channels * height * width);
            // Each image starts at another offset, so that together they cover every position.
            for (int position = (int)(_images % step); position < positions; position += step)
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
                    _sums[r] += pr;
                    if (pr == 0) continue;
                    var row = _products.AsSpan(r * Size, Size);
                    for (int col = r; col < Size; col++) row[col] += pr * patch[col];
                }
                _patches++;
            }
        }
    }

    /// <summary><c>E[p]</c>: the mean patch, padding included.</summary>
    public double[] Means()
    {
        if (_patches == 0) throw new InvalidOperationException("No patches were seen.");
        return _sums.Select(sum => sum / _patches).ToArray();
    }

    /// <summary>The mean of each input channel over the patches' taps, padding included.</summary>
    public double[] ChannelMeans()
    {
        var means = Means();
        int taps = _kernelHeight * _kernelWidth;
        return Enumerable.Range(0, _channels).Select(c => means.AsSpan(c * taps, taps).ToArray().Average()).ToArray();
    }

    /// <summary><c>E[p pᵀ]</c>, row-major <see cref="Size"/> × <see cref="Size"/>.</summary>
    public double[] Moments()
    {
        if (_patches == 0) throw new InvalidOperationException("No patches were seen.");
        var moments = new double[Size * Size];
        for (int r = 0; r < Size; r++)
            for (int c = r; c < Size; c++)
                moments[r * Size + c] = moments[c * Size + r] = _products[r * Size + c] / _patches;
        return moments;
    }
}
