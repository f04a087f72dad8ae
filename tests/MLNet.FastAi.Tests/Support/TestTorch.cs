using MLNet.FastAi.Runtime;
using static TorchSharp.torch;

namespace MLNet.FastAi.Tests.Support;

/// <summary>Process-wide TorchSharp settings for the training tests.</summary>
internal static class TestTorch
{
    private static readonly object Gate = new();
    private static bool _applied;

    /// <summary>
    /// One intra-op thread. xunit runs test collections in parallel on the CI's two cores, so libtorch's default of
    /// one OpenMP thread per core oversubscribes them; measured here, a tiny-ResNet epoch took ten times longer with
    /// two threads under that contention than with one.
    /// </summary>
    public static void UseOneThread()
    {
        lock (Gate)
        {
            if (_applied) return;
            TorchRuntime.EnsureInitialized();
            set_num_threads(1);
            _applied = true;
        }
    }

    /// <summary>A copy of every tensor of a module's state dict (parameters and buffers).</summary>
    public static Dictionary<string, float[]> Snapshot(nn.Module module) =>
        module.state_dict()
            .Where(kv => kv.Value.dtype == ScalarType.Float32)
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous().data<float>().ToArray());

    /// <summary>The largest absolute difference between two snapshots of the same module.</summary>
    public static double MaxDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        double max = 0;
        foreach (var (name, values) in a)
        {
            var other = b[name];
            Assert.Equal(values.Length, other.Length);
            for (int i = 0; i < values.Length; i++) max = Math.Max(max, Math.Abs((double)values[i] - other[i]));
        }
        return max;
    }
}
