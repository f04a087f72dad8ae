using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>
/// A ResNet without its pooling and classifier (fastai's "body", cut at -2): stem, then four stages. Parameter names
/// match torchvision's resnet state dicts so PyTorch checkpoints load directly.
/// </summary>
internal sealed class ResNetBody : Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;

    /// <param name="architecture">Block kind and blocks per stage.</param>
    /// <param name="inputChannels">Channels of the input images.</param>
    /// <param name="generator">Draws the initial convolution weights; null uses the process-wide generator.</param>
    public ResNetBody(ResNetArchitecture architecture, int inputChannels = 3, Generator? generator = null) : base("ResNetBody")
    {
        if (architecture.BlocksPerStage.Count != 4 || architecture.BlocksPerStage.Any(b => b < 1))
            throw new ArgumentException($"A ResNet needs four stages of at least one block; got [{string.Join(", ", architecture.BlocksPerStage)}].", nameof(architecture));
        Architecture = architecture;
        conv1 = Conv2d(inputChannels, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = BatchNorm2d(64);
        maxpool = MaxPool2d(3, stride: 2, padding: 1);
        long inPlanes = 64;
        var stages = new Sequential[4];
        long[] planes = { 64, 128, 256, 512 };
        for (int s = 0; s < 4; s++)
        {
            var blocks = new List<(string, Module<Tensor, Tensor>)>();
            for (int b = 0; b < architecture.BlocksPerStage[s]; b++)
            {
                long stride = s > 0 && b == 0 ? 2 : 1;
                ResidualBlock block = architecture.Block == ResidualBlockKind.Basic
                    ? new BasicBlock(inPlanes, planes[s], stride)
                    : new Bottleneck(inPlanes, planes[s], stride);
                blocks.Add((b.ToString(System.Globalization.CultureInfo.InvariantCulture), block));
                inPlanes = planes[s] * architecture.Expansion;
            }
            stages[s] = Sequential(blocks);
        }
        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3]);
        RegisterComponents();
        InitializeLikeTorchvision(generator);
    }

    public ResNetArchitecture Architecture { get; }

    public Conv2d StemConv => conv1;

    public BatchNorm2d StemNorm => bn1;

    public MaxPool2d StemPool => maxpool;

    public IReadOnlyList<Sequential> Stages => new[] { layer1, layer2, layer3, layer4 };

    /// <summary>The blocks of every stage, in forward order.</summary>
    public IEnumerable<ResidualBlock> Blocks => Stages.SelectMany(s => s.children().Cast<ResidualBlock>());

    /// <summary>
    /// fastai's two body parameter groups for ResNets: the stem with stages 1–2, and stages 3–4 (fastai's
    /// <c>_resnet_split</c>: <c>body[:6]</c> and <c>body[6:]</c>).
    /// </summary>
    public (IEnumerable<Parameter> Early, IEnumerable<Parameter> Late) ParameterGroups() =>
        (conv1.parameters().Concat(bn1.parameters()).Concat(layer1.parameters()).Concat(layer2.parameters()),
         layer3.parameters().Concat(layer4.parameters()));

    public override Tensor forward(Tensor input)
    {
        // Each stage's input is released once the next stage has it (see ResidualBlock.forward).
        using var scope = NewDisposeScope();
        Tensor x;
        // The stem's full-resolution activations go as soon as the max pool has them.
        using (var stem = NewDisposeScope())
            x = stem.MoveToOuter(Stem(input));
        foreach (var stage in new[] { layer1, layer2, layer3, layer4 })
        {
            var next = stage.call(x);
            x.Dispose();
            x = next;
        }
        return scope.MoveToOuter(x);
    }

    private Tensor Stem(Tensor input)
    {
        if (!bn1.training) return maxpool.call(Convolutions.WithNorm(conv1, bn1, input).relu_());
        var convOutput = Convolutions.Apply(conv1, input);
        return CompactStemTail.Applies(bn1, maxpool, convOutput)
            ? CompactStemTail.Apply(bn1, maxpool, convOutput)
            : maxpool.call(Convolutions.TrainingNorm(bn1, convOutput).relu_());
    }

    private void InitializeLikeTorchvision(Generator? generator)
    {
        using var _ = no_grad();
        foreach (var module in modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    SeededInit.KaimingNormal(conv.weight, SeededInit.FanOut(conv.weight), generator);
                    break;
                case BatchNorm2d bn:
                    init.ones_(bn.weight);
                    init.zeros_(bn.bias);
                    break;
            }
        }
    }
}
