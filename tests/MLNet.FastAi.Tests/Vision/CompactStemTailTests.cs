using MLNet.FastAi.Runtime;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Vision;

/// <summary>
/// The stem's batch norm, ReLU and max pool run as one function that recomputes them in the backward pass: its
/// outputs and running statistics must be the ones the three operations give bit for bit (the forward pass runs the
/// same libtorch kernels on the same inputs), and its gradients theirs up to float32 rounding, whichever of its inputs
/// need a gradient (batch norm's gradient is its formula summed in another order).
/// </summary>
public class CompactStemTailTests
{
    [Theory]
    [InlineData(true, true, false, 30)]   // unfrozen: the convolution and the norm train
    [InlineData(false, true, false, 30)]  // frozen with fastai's train_bn: only the norm trains
    [InlineData(true, true, true, 30)]    // an input that itself needs a gradient
    [InlineData(true, false, false, 30)]  // a norm that does not train
    [InlineData(true, true, true, 270)]   // a stem 135 pixels wide: window offsets past a byte's range
    [InlineData(true, true, true, 30, true)]  // channels-last activations
    public void MatchesTheThreeOperations(bool convTrains, bool normTrains, bool inputNeedsGradient, int size, bool channelsLast = false)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var input = randn(new long[] { 2, 3, size, size }, generator: generator);
        if (channelsLast) input = input.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        input.requires_grad_(inputNeedsGradient);
        long pooled = (size + 1) / 2 / 2 + (size + 1) / 2 % 2;
        var upstream = randn(new long[] { 2, 8, pooled, pooled }, generator: generator);
        double values = 2.0 * ((size + 1) / 2) * ((size + 1) / 2);
        var ours = Stem(convTrains, normTrains);
        var theirs = Stem(convTrains, normTrains);
        using (no_grad())
            foreach (var ((_, a), (_, b)) in ours.Conv.named_parameters().Concat(ours.Norm.named_parameters())
                         .Zip(theirs.Conv.named_parameters().Concat(theirs.Norm.named_parameters())))
                b.copy_(a);

        var convOutput = ours.Conv.call(input);
        Assert.Equal(channelsLast, CnnModel.IsChannelsLast(convOutput));
        var recomputed = CompactStemTail.Apply(ours.Norm, ours.Pool, convOutput);
        (recomputed * upstream).sum().backward();
        var inputGradient = input.grad?.clone();
        input.grad?.zero_();
        var theirConvOutput = theirs.Conv.call(input);
        if (theirConvOutput.requires_grad) theirConvOutput.retain_grad();
        var reference = theirs.Pool.call(Convolutions.TrainingNorm(theirs.Norm, theirConvOutput).relu_());
        (reference * upstream).sum().backward();

        // The function spends the convolution's output: overwritten by its own gradient (float32, NCHW), else handed back.
        if (convOutput.requires_grad && !channelsLast) AssertClose(theirConvOutput.grad!, convOutput, "gradient written over the convolution's output", values);
        else Assert.Equal(0, convOutput.numel());

        AssertSame(reference, recomputed, "output");
        if (inputNeedsGradient) AssertClose(input.grad!, inputGradient!, "input gradient", values);
        AssertSameGradient(theirs.Conv.weight!, ours.Conv.weight!, "convolution weight", convTrains, values);
        AssertSameGradient(theirs.Norm.weight!, ours.Norm.weight!, "norm weight", normTrains, values);
        AssertSameGradient(theirs.Norm.bias!, ours.Norm.bias!, "norm bias", normTrains, values);
        AssertSame(theirs.Norm.running_mean!, ours.Norm.running_mean!, "running mean");
        AssertSame(theirs.Norm.running_var!, ours.Norm.running_var!, "running variance");
        Assert.Equal(theirs.Norm.num_batches_tracked!.item<long>(), ours.Norm.num_batches_tracked!.item<long>());
    }

    [Fact]
    public void EvaluationNoGradientAndSmallStemsKeepTheThreeOperations()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var stem = Stem(convTrains: true, normTrains: true);
        Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, stem.Conv.call(ones(2, 3, 16, 16))));
        // Inputs to the norm, each image as large as the smallest stem output the function takes (64-px images).
        var leaf = ones(3, 64, 32, 32).requires_grad_();
        var convOutput = leaf * 1;
        Assert.Equal(CompactStemTail.MinimumValuesPerImage * 3, convOutput.numel());
        Assert.True(CompactStemTail.Applies(stem.Norm, stem.Pool, convOutput));
        Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, ones(3, 64, 32, 31).requires_grad_() * 1));
        // The function writes over its input: not over a tensor with a gradient of its own, nor an empty batch.
        Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, leaf));
        Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, zeros(0, 64, 32, 32).requires_grad_() * 1));
        using (no_grad())
            Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, convOutput));
        stem.Norm.eval();
        Assert.False(CompactStemTail.Applies(stem.Norm, stem.Pool, convOutput));
    }

    private static (Conv2d Conv, BatchNorm2d Norm, MaxPool2d Pool) Stem(bool convTrains, bool normTrains)
    {
        var conv = nn.Conv2d(3, 8, 7, stride: 2, padding: 3, bias: false);
        var norm = nn.BatchNorm2d(8);
        using (no_grad())
        {
            norm.weight!.uniform_(0.5, 1.5);
            norm.bias!.uniform_(-0.5, 0.5);
            norm.bias![0] = tensor(-3f);  // a channel the ReLU cuts nearly everywhere: whole windows pass no gradient
        }
        conv.weight!.requires_grad = convTrains;
        norm.weight!.requires_grad = normTrains;
        norm.bias!.requires_grad = normTrains;
        norm.train();
        return (conv, norm, nn.MaxPool2d(3, stride: 2, padding: 1));
    }

    private static void AssertSameGradient(Tensor expected, Tensor actual, string what, bool trains, double values)
    {
        if (!trains)
        {
            Assert.Null(actual.grad);
            return;
        }
        AssertClose(expected.grad!, actual.grad!, what + " gradient", values);
    }

    /// <summary>
    /// Equal up to float32 rounding of sums over a channel's <paramref name="values"/>: a sum is off by at most about
    /// values · 2⁻²⁴ of its terms' magnitude (10⁻⁴ at the least), relative to the largest gradient.
    /// </summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what, double values)
    {
        Assert.Equal(expected.shape, actual.shape);
        var (e, a) = (expected.detach().flatten().data<float>().ToArray(), actual.detach().flatten().data<float>().ToArray());
        double largest = e.Max(v => Math.Abs(v)), worst = e.Zip(a).Max(p => Math.Abs(p.First - p.Second));
        double tolerance = Math.Max(1e-4, values * Math.Pow(2, -24));
        Assert.True(largest > 0, $"{what}: all zero");
        Assert.True(worst <= tolerance * largest, $"{what}: differs by {worst} where the largest value is {largest} (tolerance {tolerance} of it)");
    }

    private static void AssertSame(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var (e, a) = (expected.detach().flatten().data<float>().ToArray(), actual.detach().flatten().data<float>().ToArray());
        int differing = e.Zip(a).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
        Assert.True(differing == 0, $"{what}: {differing} of {e.Length} values differ (largest difference {e.Zip(a).Max(p => Math.Abs(p.First - p.Second))})");
    }
}
