// Added to every C# project that references MLNet.FastAi (buildTransitive/MLNet.FastAi.targets).
namespace MLNet.FastAi.Generated
{
    internal static class MLNetFastAiNativeInitializer
    {
        [System.Runtime.CompilerServices.ModuleInitializer]
        internal static void Initialize() => global::MLNet.FastAi.Runtime.TorchRuntime.RegisterNativeResolver();
    }
}
