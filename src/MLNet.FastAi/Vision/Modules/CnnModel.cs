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

    /// <summary>True when a 4-d tensor's channels are its innermost dimension in memory.</summary>
    internal static bool IsChannelsLast(Tensor x) => x.dim() == 4 && x.stride(1) == 1 && x.stride(3) == x.shape[1];

    /// <summary>fastai's three groups for ResNets: early body, late body, head (used for freezing and discriminative learning rates).</summary>
    public IReadOnlyList<IReadOnlyList<Parameter>> ParameterGroups()
    {
        var (early, late) = body.ParameterGroups();
        return new IReadOnlyList<Parameter>[] { early.ToList(), late.ToList(), head.parameters().ToList() };
    }

    /// <summary>
    /// The body's compute precision: <see cref="ScalarType.Float32"/>, or <see cref="ScalarType.BFloat16"/> for mixed
    /// precision (parameters, batch-norm statistics, the head and the loss stay float32).
    /// </summary>
    public ScalarType BodyPrecision { get; set; } = ScalarType.Float32;

    /// <summary>Run convolutions on channels-last (NHWC) activations, the layout GPU tensor cores and oneDNN prefer.</summary>
    public bool ChannelsLast { get; set; }

    public override Tensor forward(Tensor input)
    {
        var x = input;
        // The layout follows the input through the network: convolutions keep a channels-last input's layout. NHWC
        // strides behind NCHW sizes are what libtorch calls channels-last (TorchSharp 0.107 has no contiguous(format)).
        if (ChannelsLast && !IsChannelsLast(x)) x = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        if (BodyPrecision != x.dtype) x = x.to(BodyPrecision);
        var features = body.call(x);
        return head.call(features.dtype == ScalarType.Float32 ? features : features.to(ScalarType.Float32));
    }
}
