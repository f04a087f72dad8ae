using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.FastAi.Vision.Modules;

/// <summary>A pretrained-style CNN classifier: a ResNet body followed by fastai's head.</summary>
internal sealed class CnnModel : Module<Tensor, Tensor>
{
    private readonly ResNetBody body;
    private readonly FastAiHead head;

    /// <param name="architecture">The body's shape.</param>
    /// <param name="classes">Number of classes the head predicts.</param>
    /// <param name="dropout">The head's dropout.</param>
    /// <param name="generator">Draws initial weights and dropout masks; null uses libtorch's process-wide generator.</param>
    public CnnModel(ResNetArchitecture architecture, int classes, double dropout = 0.5, Generator? generator = null) : base("CnnModel")
    {
        body = new ResNetBody(architecture, generator: generator);
        head = new FastAiHead(architecture.FeatureCount, classes, dropout, generator);
        RegisterComponents();
    }

    public ResNetBody Body => body;

    public FastAiHead Head => head;

    /// <summary>fastai's three groups for ResNets: early body, late body, head (used for freezing and discriminative learning rates).</summary>
    public IReadOnlyList<IReadOnlyList<Parameter>> ParameterGroups()
    {
        var (early, late) = body.ParameterGroups();
        return new IReadOnlyList<Parameter>[] { early.ToList(), late.ToList(), head.parameters().ToList() };
    }

    public override Tensor forward(Tensor input) => head.call(body.call(input));
}
