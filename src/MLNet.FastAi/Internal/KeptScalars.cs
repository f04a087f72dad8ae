using TorchSharp;

namespace MLNet.FastAi.Internal;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s that stay reachable for as long as the native call that reads them.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's Scalars free their native value in a finalizer and are not tracked by dispose scopes. One made
/// implicitly for a single call (the alpha of <c>add(tensor)</c>, which is <c>add(tensor, 1)</c>; a <c>double</c>
/// handed to <c>mul_</c>) is garbage once its handle is read, so a collection on another thread can free it while the
/// kernel still reads it: a test run failed once with "Expected false to be true" from <c>c10::Scalar::toFloat</c> in
/// the alpha of an <c>add</c>. The per-batch paths (model, optimizer, batch building, metrics) therefore pass
/// Scalars held by a static field or a <c>using</c> local, never implicit ones (see dotnet/TorchSharp#1434, #1496).
/// </remarks>
internal static class KeptScalars
{
    /// <summary>The alpha of a plain <c>add</c> or <c>sub</c>; a static root, so never finalized.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>255, for pixels in 0..255 to 0..1.</summary>
    public static readonly Scalar PixelMax = 255f.ToScalar();
}
