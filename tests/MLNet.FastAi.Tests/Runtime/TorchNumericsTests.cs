using MLNet.FastAi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Runtime;

/// <summary>
/// TorchSharp must compute correctly on this machine: a conv → batchnorm (training mode) → ReLU → linear network,
/// forward and backward, checked against a plain float64 implementation written here and its finite differences.
/// </summary>
public class TorchNumericsTests
{
    private const int N = 2, Cin = 2, Cout = 3, H = 4, W = 4, K = 3, Classes = 2;

    [Fact]
    public void ConvBatchNormLinear_ForwardAndBackward_MatchIndependentFloat64()
    {
        TorchRuntime.EnsureInitialized();
        var x = Fill(N * Cin * H * W, i => Math.Sin(0.37 * i) + 0.1 * (i % 5));
        var convW = Fill(Cout * Cin * K * K, i => Math.Cos(0.11 * i + 0.3) * 0.4);
        var convB = Fill(Cout, i => 0.05 * (i - 1));
        var gamma = Fill(Cout, i => 1.0 + 0.2 * i);
        var beta = Fill(Cout, i => -0.1 + 0.1 * i);
        var linW = Fill(Classes * Cout * H * W, i => Math.Sin(0.07 * i + 1.0) * 0.3);
        var linB = Fill(Classes, i => 0.2 * i);
        var mix = Fill(N * Classes, i => 1.0 + 0.5 * i); // loss = Σ mix · logits

        using var scope = NewDisposeScope();
        var conv = nn.Conv2d(Cin, Cout, K, padding: 1);
        var bn = nn.BatchNorm2d(Cout);
        var lin = nn.Linear(Cout * H * W, Classes);
        using (no_grad())
        {
            conv.weight!.copy_(tensor(convW.Select(v => (float)v).ToArray()).reshape(Cout, Cin, K, K));
            conv.bias!.copy_(tensor(convB.Select(v => (float)v).ToArray()));
            bn.weight!.copy_(tensor(gamma.Select(v => (float)v).ToArray()));
            bn.bias!.copy_(tensor(beta.Select(v => (float)v).ToArray()));
            lin.weight!.copy_(tensor(linW.Select(v => (float)v).ToArray()).reshape(Classes, Cout * H * W));
            lin.bias!.copy_(tensor(linB.Select(v => (float)v).ToArray()));
        }
        var input = tensor(x.Select(v => (float)v).ToArray()).reshape(N, Cin, H, W);
        var logits = lin.forward(nn.functional.relu(bn.forward(conv.forward(input))).flatten(1));
        var loss = (logits * tensor(mix.Select(v => (float)v).ToArray()).reshape(N, Classes)).sum();
        loss.backward();

        var expectedLogits = Forward(x, convW, convB, gamma, beta, linW, linB);
        var actualLogits = logits.data<float>().ToArray();
        for (int i = 0; i < expectedLogits.Length; i++)
            Assert.True(Math.Abs(expectedLogits[i] - actualLogits[i]) < 1e-4, $"logit {i}: torch {actualLogits[i]} vs float64 {expectedLogits[i]}");

        // Gradient of the loss w.r.t. the convolution weights by central differences of the float64 network.
        var torchGrad = conv.weight!.grad!.data<float>().ToArray();
        double Loss(double[] w) => Forward(x, w, convB, gamma, beta, linW, linB).Select((v, i) => v * mix[i]).Sum();
        for (int i = 0; i < convW.Length; i++)
        {
            var plus = (double[])convW.Clone(); plus[i] += 1e-6;
            var minus = (double[])convW.Clone(); minus[i] -= 1e-6;
            double numeric = (Loss(plus) - Loss(minus)) / 2e-6;
            Assert.True(Math.Abs(numeric - torchGrad[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)),
                $"d loss / d conv.weight[{i}]: torch {torchGrad[i]} vs finite difference {numeric}");
        }
    }

    private static double[] Fill(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(f).ToArray();

    /// <summary>The reference network in float64: conv (padding 1), batch-statistics BN (eps 1e-5), ReLU, linear.</summary>
    private static double[] Forward(double[] x, double[] cw, double[] cb, double[] g, double[] b, double[] lw, double[] lb)
    {
        var conv = new double[N * Cout * H * W];
        for (int n = 0; n < N; n++)
        for (int o = 0; o < Cout; o++)
        for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
        {
            double s = cb[o];
            for (int c = 0; c < Cin; c++)
            for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++)
            {
                int yi = i + ki - 1, xj = j + kj - 1;
                if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                s += cw[((o * Cin + c) * K + ki) * K + kj] * x[((n * Cin + c) * H + yi) * W + xj];
            }
            conv[((n * Cout + o) * H + i) * W + j] = s;
        }
        for (int o = 0; o < Cout; o++)
        {
            var values = new List<double>();
            for (int n = 0; n < N; n++) for (int p = 0; p < H * W; p++) values.Add(conv[(n * Cout + o) * H * W + p]);
            double mean = values.Average(), variance = values.Select(v => (v - mean) * (v - mean)).Average();
            for (int n = 0; n < N; n++)
            for (int p = 0; p < H * W; p++)
            {
                int at = (n * Cout + o) * H * W + p;
                conv[at] = Math.Max(0, g[o] * (conv[at] - mean) / Math.Sqrt(variance + 1e-5) + b[o]);
            }
        }
        var logits = new double[N * Classes];
        int features = Cout * H * W;
        for (int n = 0; n < N; n++)
        for (int k = 0; k < Classes; k++)
        {
            double s = lb[k];
            for (int f = 0; f < features; f++) s += lw[k * features + f] * conv[n * features + f];
            logits[n * Classes + k] = s;
        }
        return logits;
    }
}
