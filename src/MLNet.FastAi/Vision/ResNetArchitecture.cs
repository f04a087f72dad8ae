using MLNet.FastAi.Runtime;
namespace MLNet.FastAi.Vision;

/// <summary>The residual block a ResNet is built from.</summary>
public enum ResidualBlockKind
{
    /// <summary>Two 3×3 convolutions (ResNet-18/34).</summary>
    Basic,
    /// <summary>1×1, 3×3, 1×1 convolutions with 4× expansion (ResNet-50 and deeper).</summary>
    Bottleneck,
}

/// <summary>
/// The shape of a ResNet body: block kind and blocks per stage. Presets follow torchvision, whose state-dict names
/// the modules reproduce (<c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c>, <c>layer2.0.downsample.0</c>, ...).
/// </summary>
/// <param name="Name">A display name, e.g. "resnet18".</param>
/// <param name="Block">The residual block kind.</param>
/// <param name="BlocksPerStage">Blocks in each of the four stages.</param>
public sealed record ResNetArchitecture(string Name, ResidualBlockKind Block, IReadOnlyList<int> BlocksPerStage)
{
    /// <summary>torchvision's ResNet-18: basic blocks, [2, 2, 2, 2].</summary>
    public static ResNetArchitecture ResNet18 { get; } = new("resnet18", ResidualBlockKind.Basic, new[] { 2, 2, 2, 2 });

    /// <summary>torchvision's ResNet-34: basic blocks, [3, 4, 6, 3].</summary>
    public static ResNetArchitecture ResNet34 { get; } = new("resnet34", ResidualBlockKind.Basic, new[] { 3, 4, 6, 3 });

    /// <summary>torchvision's ResNet-50: bottleneck blocks, [3, 4, 6, 3].</summary>
    public static ResNetArchitecture ResNet50 { get; } = new("resnet50", ResidualBlockKind.Bottleneck, new[] { 3, 4, 6, 3 });

    /// <summary>
    /// The ResNet-18 variant that ML.NET's ImageNet featurizer (Microsoft.ML.DnnImageFeaturizer.ResNet18, a CNTK
    /// export) was trained as: basic blocks, [2, 2, 2, 3].
    /// </summary>
    public static ResNetArchitecture ResNet18Cntk { get; } = new("resnet18-cntk", ResidualBlockKind.Basic, new[] { 2, 2, 2, 3 });

    /// <summary>Channels multiplier of the last convolution of a block (1 for basic, 4 for bottleneck).</summary>
    public int Expansion => Block == ResidualBlockKind.Basic ? 1 : 4;

    /// <summary>Number of features the body produces per spatial position (512 × expansion).</summary>
    public int FeatureCount => 512 * Expansion;

    /// <summary>Finds a preset by name (resnet18, resnet34, resnet50, resnet18-cntk), case-insensitively.</summary>
    /// <exception cref="ArgumentException">No preset has that name.</exception>
    public static ResNetArchitecture FromName(string name) =>
        new[] { ResNet18, ResNet34, ResNet50, ResNet18Cntk }.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown architecture '{name}'. Known: resnet18, resnet34, resnet50, resnet18-cntk.", nameof(name));

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Block}, [{string.Join(", ", BlocksPerStage)}])";

    /// <summary>The body's shape, for the activation-memory estimate.</summary>
    internal ActivationMemory.BodyShape Shape => new(BlocksPerStage, Block == ResidualBlockKind.Bottleneck, Expansion);
}
