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

    public CnnModel(ResNetArchitecture architecture, int classes, double dropout = 0.5) : base("CnnModel")
    {
        body = new ResNetBody(architecture);
        head = new FastAiHead(architecture.FeatureCount, classes, dropout);
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
