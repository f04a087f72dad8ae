namespace MLNet.FastAi.Vision.Export.Int8;

/// <summary>
/// Rounds a convolution's weights to int8 one at a time, moving each rounding error onto the weights not yet rounded so
/// that the output on the data seen changes least (GPTQ's update: Frantar et al., "GPTQ: Accurate Post-Training
/// Quantization for Generative Pre-trained Transformers", 2022), given the second moments <c>H = E[p pᵀ]</c> of the
/// patches the convolution reads.
/// </summary>
/// <remarks>
/// Rounding each weight to its nearest step minimizes the error of each weight, not of the output. The two differ most
/// where inputs are correlated: on a grey image the three colour channels of a pixel are one value, so a colour-opponent
/// filter of the stem, whose taps cancel in float32, stops cancelling once each tap is rounded on its own; the batch norm
/// folded in (of small variance, as such a filter's output on grey images is nearly constant) then scales that error up.
/// </remarks>
internal sealed class CompensatedRounding
{
    /// <summary>Added to H's diagonal, as a share of its mean, so that its inverse exists (GPTQ's dampening).</summary>
    private const double Dampening = 0.01;

    private readonly int _size;
    private readonly double[] _upper;

    /// <param name="moments">H, row-major, <paramref name="size"/> × <paramref name="size"/>.</param>
    /// <param name="size">Weights per output channel: the values in a patch.</param>
    public CompensatedRounding(double[] moments, int size)
    {
        _size = size;
        var h = (double[])moments.Clone();
        double mean = 0;
        for (int i = 0; i < size; i++) mean += h[i * size + i];
        mean /= size;
        for (int i = 0; i < size; i++) h[i * size + i] += Dampening * Math.Max(mean, 1e-12);
        // GPTQ's form: the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU); row j holds how weight j's error moves onto the rest.
        _upper = UpperCholesky(Inverse(h, size), size);
    }

    /// <summary>Rounds <paramref name="weights"/> (one output channel's) at <paramref name="scale"/> into <paramref name="rounded"/>.</summary>
    public void Round(ReadOnlySpan<float> weights, float scale, Span<sbyte> rounded)
    {
        if (weights.Length != _size || rounded.Length != _size)
            throw new ArgumentException($"Expected {_size} weights; got {weights.Length}.", nameof(weights));
        var w = new double[_size];
        for (int i = 0; i < _size; i++) w[i] = weights[i];
        for (int j = 0; j < _size; j++)
        {
            double q = Math.Clamp(Math.Round(w[j] / scale), -127, 127);
            rounded[j] = (sbyte)q;
            double error = (w[j] - q * scale) / _upper[j * _size + j];
            for (int k = j + 1; k < _size; k++) w[k] -= error * _upper[j * _size + k];
        }
    }

    private static double[] Inverse(double[] a, int n)
    {
        // Through the Cholesky factor of the (symmetric positive definite) dampened H: H = LLᵀ, H⁻¹ = L⁻ᵀL⁻¹.
        var l = LowerCholesky(a, n);
        var lInverse = new double[n * n];
        for (int col = 0; col < n; col++)
        {
            for (int row = col; row < n; row++)
            {
                double sum = row == col ? 1 : 0;
                for (int k = col; k < row; k++) sum -= l[row * n + k] * lInverse[k * n + col];
                lInverse[row * n + col] = sum / l[row * n + row];
            }
        }
        var inverse = new double[n * n];
        for (int r = 0; r < n; r++)
            for (int c = r; c < n; c++)
            {
                double sum = 0;
                for (int k = c; k < n; k++) sum += lInverse[k * n + r] * lInverse[k * n + c];
                inverse[r * n + c] = inverse[c * n + r] = sum;
            }
        return inverse;
    }

    private static double[] LowerCholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * n + j];
                for (int k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
                if (i == j)
                {
                    if (sum <= 0) throw new InvalidOperationException("The patch moments are not positive definite.");
                    l[i * n + i] = Math.Sqrt(sum);
                }
                else l[i * n + j] = sum / l[j * n + j];
            }
        return l;
    }

    private static double[] UpperCholesky(double[] a, int n)
    {
        // U with A = UᵀU is the transpose of the lower factor of A.
        var l = LowerCholesky(a, n);
        var u = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) u[j * n + i] = l[i * n + j];
        return u;
    }
}
