using MLNet.FastAi.Data;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Training;

/// <summary>Small photos at 64 px, the smallest size these tests use.</summary>
public sealed class SmallPhotoFixture : IDisposable
{
    public const int Size = 64;

    public SmallPhotoFixture()
    {
        TestTorch.UseOneThread();
        Root = Path.Combine(Path.GetTempPath(), "fastai-photos-" + Guid.NewGuid().ToString("N"));
        PhotoFolder.Write(Root, perClass: 24, sizes: new[] { (80, 64), (64, 80), (72, 72) });
        Data = ImageDataLoaders.FromFolder(Root, valid: null, validPct: 0.25,
            options: new ImageDataOptions { ImageSize = Size, BatchSize = 16, Seed = 2, Resize = ResizeMethod.Crop, Log = _ => { } });
    }

    public string Root { get; }

    public ImageDataLoaders Data { get; }

    public void Dispose()
    {
        Data.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>
/// Mixed precision (bfloat16 convolutions, float32 masters) and channels-last activations, on the CPU: what the
/// layers receive, what the optimizer keeps, and that training still learns.
/// </summary>
/// <remarks>
/// At 64 px, not the 16 px of the MNIST fixtures: there a tiny ResNet's last stage works on 1×1 maps, and libtorch's
/// bfloat16 convolution backward on the CPU was seen to leave a NaN in that stage's largest weight gradient about once
/// in five runs when freed memory was reused (not seen at 64 px, nor in float32).
/// </remarks>
public sealed class MixedPrecisionTests(SmallPhotoFixture fixture, ITestOutputHelper output) : IClassFixture<SmallPhotoFixture>
{
    /// <summary>One bottleneck block per stage: ResNet-50's shapes (its 512 → 1024 strided shortcut among them) at a fraction of its work.</summary>
    private static readonly ResNetArchitecture TinyBottleneckResNet = new("tiny-bottleneck-resnet", ResidualBlockKind.Bottleneck, new[] { 1, 1, 1, 1 });

    private Learner NewLearner(bool mixed, bool channelsLast, ResNetArchitecture? architecture = null) => Learner.Vision(fixture.Data, new VisionLearnerOptions
    {
        Architecture = architecture ?? SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.None, ShowProgress = false, Device = ComputeDevice.Cpu,
        Seed = 3, MixedPrecision = mixed, ChannelsLast = channelsLast,
    });

    /// <summary>What the stem's max pool receives (the stem convolution's output after batch norm and ReLU): its dtype and layout.</summary>
    private static (ScalarType DType, bool ChannelsLast) StemOutput(Learner learner)
    {
        var model = (CnnModel)learner.Model;
        (ScalarType, bool)? seen = null;
        var hook = model.Body.StemPool.register_forward_pre_hook((_, input) =>
        {
            seen = (input.dtype, CnnModel.IsChannelsLast(input));
            return null!;
        });
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.eval();
            model.call(rand(2, 3, SmallPhotoFixture.Size, SmallPhotoFixture.Size));
        }
        finally
        {
            hook.remove();
        }
        return seen ?? throw new InvalidOperationException("the stem's max pool was not called");
    }

    [Fact]
    public void WithMixedPrecision_ConvolutionsRunInBFloat16_AndTheMastersStayFloat32_AndTheLossFalls()
    {
        using var learner = NewLearner(mixed: true, channelsLast: false);
        Assert.Equal(ScalarType.BFloat16, StemOutput(learner).DType);
        var before = TestTorch.Snapshot(learner.Model);

        learner.Unfreeze();
        learner.FitOneCycle(3, 1e-2);

        Assert.All(learner.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(learner.Model.buffers().Where(b => b.is_floating_point()), b => Assert.Equal(ScalarType.Float32, b.dtype));
        var losses = learner.Recorder.Epochs.Select(e => e.TrainLoss).ToList();
        double moved = TestTorch.MaxDifference(before, TestTorch.Snapshot(learner.Model));
        Assert.True(moved > 1e-3, $"the float32 weights did not move (largest change {moved}); losses {string.Join(", ", losses)}");
        output.WriteLine($"mixed precision, train loss per epoch: {string.Join(", ", losses.Select(l => l.ToString("F3")))}; valid accuracy {learner.MetricValues["accuracy"]:F3}");
        Assert.True(losses[^1] < 0.8 * losses[0], $"the loss did not fall: {string.Join(", ", losses)}");
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
    }

    [Fact]
    public void MixedPrecisionPredictions_StayCloseToFloat32Ones()
    {
        using var full = NewLearner(mixed: false, channelsLast: false);
        using var mixed = NewLearner(mixed: true, channelsLast: false);
        Assert.Equal(ScalarType.Float32, StemOutput(full).DType);
        // Same seed, so the same starting weights: only the precision differs.
        var a = full.GetPreds();
        var b = mixed.GetPreds();
        double maxDiff = a.Probabilities.Zip(b.Probabilities, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max();
        output.WriteLine($"max |float32 - bfloat16| probability over {a.Count} images: {maxDiff:E2}");
        // bfloat16 keeps 8 bits (a rounding of 2⁻⁹ ≈ 2e-3 per operation) through ten convolutions of an untrained body:
        // a quarter of the logits' resulting error stays well under 0.05 (seen: 8e-4), while a layer that ran in the
        // wrong precision or layout moves probabilities by tenths.
        Assert.True(maxDiff < 0.05, $"bfloat16 probabilities differ from float32 by {maxDiff}");
        Assert.True(maxDiff > 0, "the two runs are identical: mixed precision did not take effect");
    }

    /// <summary>
    /// Logits, float32 against float64, relative to the reference's largest logit. float32 rounds each operation by at
    /// most 2⁻²⁴ ≈ 6e-8 of its result; a logit here is the end of ten convolutions of up to 4,608 products each and a
    /// head, so even with the error of every sum growing as √n (about 70 × 6e-8 per layer) and fast algorithms such as
    /// Winograd costing a few bits more, it stays near 1e-5. A kernel that computes wrongly lands far above 1e-4: oneDNN's
    /// channels-last 1×1 kernel on AVX-512 was off by 0.09.
    /// </summary>
    private const double LogitTolerance = 1e-4;

    /// <summary>
    /// One convolution, float32 against float64, relative to the reference's largest entry: each output (and each
    /// input or weight gradient) is a sum of at most batch × pixels ≈ 32,768 products, whose rounding grows about as
    /// √n × 2⁻²⁴ ≈ 1e-5 of the terms' size (Higham's probabilistic bound); 1e-4 leaves a factor of ten for the order of
    /// summation and fast algorithms. Seen: at most 4.2e-6 over 174 comparisons; the broken kernels were off by 1e-1 or
    /// crashed.
    /// </summary>
    private const double ConvolutionTolerance = 1e-4;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelsLast_ReachesTheConvolutions_AndBothLayoutsMatchAFloat64Reference(bool bottleneck)
    {
        var architecture = bottleneck ? TinyBottleneckResNet : SmallMnistFixture.TinyResNet;
        using var plain = NewLearner(mixed: false, channelsLast: false, architecture);
        using var nhwc = NewLearner(mixed: false, channelsLast: true, architecture);
        using var reference = NewLearner(mixed: false, channelsLast: false, architecture);
        Assert.False(StemOutput(plain).ChannelsLast);
        Assert.True(StemOutput(nhwc).ChannelsLast);
        // Same seed, so the same weights; the reference computes in float64 (its body and head called directly,
        // as CnnModel's forward hands the head float32 features).
        var referenceModel = (CnnModel)reference.Model;
        referenceModel.to(ScalarType.Float64);
        var models = new[] { plain.Model, nhwc.Model, referenceModel };
        var learners = new[] { ("NCHW", plain), ("NHWC", nhwc) };

        using var scope = NewDisposeScope();
        using var loader = fixture.Data.Loader(fixture.Data.Train, CPU, training: false, fixture.Data.Normalization ?? NormalizationStats.ImageNet);
        // Sixteen images: enough for the broken kernels to show (they did from 16), half the float64 reference's work.
        var images = loader.Batches(0).First().Images[TensorIndex.Slice(stop: 16)];

        // Inference: eval mode, where batch norm is folded into the convolutions.
        using (no_grad())
        {
            foreach (var m in models) m.eval();
            var want = referenceModel.Head.call(referenceModel.Body.call(images.to(ScalarType.Float64)));
            foreach (var (name, learner) in learners)
                AssertClose($"{architecture.Name} {name} logits", learner.Model.call(images), want, LogitTolerance);
        }

        // Training: every convolution of the body as the network runs it (its input's shape at this batch, through
        // Convolutions), forward and backward in either layout, on random inputs and output gradients. Convolution by
        // convolution, as the whole network's gradients are not a smooth function of the layout's rounding: a
        // rounding-sized difference flips a ReLU or a max pool's choice among near-equal values somewhere, and with it
        // the gradient of that pixel.
        using (no_grad())
        {
            var body = ((CnnModel)plain.Model).Body;
            var x = images;
            CheckConvolution(body.StemConv, x.shape);
            x = body.StemPool.call(Convolutions.WithNorm(body.StemConv, body.StemNorm, x).relu_());
            foreach (var block in body.Blocks)
            {
                var h = x;
                foreach (var (conv, norm, relu) in block.MainPath)
                {
                    CheckConvolution(conv, h.shape);
                    h = Convolutions.WithNorm(conv, norm, h);
                    if (relu) h = h.relu_();
                }
                if (block.Shortcut is { } shortcut) CheckConvolution(shortcut.Conv, x.shape);
                x = block.call(x);
            }
        }
    }

    /// <summary>One convolution's output and gradients, NCHW and NHWC float32 against float64.</summary>
    private void CheckConvolution(Conv2d conv, long[] inputShape)
    {
        using var scope = NewDisposeScope();
        using var enabled = enable_grad();
        using var reference = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.padding![0], bias: false, dtype: ScalarType.Float64);
        using (no_grad()) reference.weight!.copy_(conv.weight!);
        var generator = new Generator((ulong)inputShape.Aggregate(17L, (a, b) => a * 31 + b));
        var input = randn(inputShape, generator: generator);
        var run = (Tensor x, Tensor gradient, Conv2d c) =>
        {
            c.weight!.grad?.zero_();
            var leaf = x.detach().requires_grad_(true);
            bool trainable = c.weight.requires_grad;
            c.weight.requires_grad = true;
            var y = Convolutions.Apply(c, leaf);
            autograd.backward(new[] { y }, new[] { gradient.to(y.dtype) });
            c.weight.requires_grad = trainable;
            return (Output: y.detach(), Input: leaf.grad!, Weight: c.weight.grad!.clone());
        };
        long[] outputShape;
        using (no_grad()) outputShape = Convolutions.Apply(reference, input.to(ScalarType.Float64)).shape;
        var outputGradient = randn(outputShape, generator: generator);
        var want = run(input.to(ScalarType.Float64), outputGradient, reference);
        string shape = $"{conv.in_channels}→{conv.out_channels} {conv.kernel_size[0]}×{conv.kernel_size[1]}/{conv.stride[0]} on {string.Join("×", inputShape)}";
        foreach (var channelsLast in new[] { false, true })
        {
            Tensor Layout(Tensor t) => channelsLast ? t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : t;
            var got = run(Layout(input), Layout(outputGradient), conv);
            string layout = channelsLast ? "NHWC" : "NCHW";
            AssertClose($"{layout} {shape}: output", got.Output, want.Output, ConvolutionTolerance);
            AssertClose($"{layout} {shape}: input gradient", got.Input, want.Input, ConvolutionTolerance);
            AssertClose($"{layout} {shape}: weight gradient", got.Weight, want.Weight, ConvolutionTolerance);
        }
    }

    private void AssertClose(string what, Tensor got, Tensor want, double tolerance)
    {
        double scale = want.abs().max().item<double>();
        double error = (got.to(ScalarType.Float64) - want).abs().max().item<double>() / scale;
        output.WriteLine($"{what}: max |float32 - float64| = {error:E2} of the largest magnitude ({scale:E2})");
        Assert.True(error < tolerance, $"{what}: max |float32 - float64| is {error:E2} of the reference's largest magnitude {scale:E2}");
    }
}
