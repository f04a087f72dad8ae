using System.Diagnostics;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Training.Callbacks;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Training;

/// <summary>
/// Times each epoch of a <see cref="MLNet.FastAi.Training.Learner"/> fit from inside, at the phase boundaries only
/// (four clock readings per epoch, so it adds nothing measurable per batch), and samples resident memory after it.
/// </summary>
internal sealed class EpochProbe(Device device) : Callback
{
    private long _epochStart, _trainStart;
    private double _trainMs;

    public List<EpochTiming> Epochs { get; } = new();

    /// <summary>Last of all callbacks, so the recorder's own end-of-epoch work is inside the measured epoch.</summary>
    public override int Order => int.MaxValue;

    public override void BeforeEpoch()
    {
        BenchDevice.Synchronize(device);
        _epochStart = Stopwatch.GetTimestamp();
    }

    public override void BeforeTrain()
    {
        BenchDevice.Synchronize(device);
        _trainStart = Stopwatch.GetTimestamp();
    }

    public override void AfterTrain()
    {
        BenchDevice.Synchronize(device);
        _trainMs = Stopwatch.GetElapsedTime(_trainStart).TotalMilliseconds;
    }

    public override void AfterEpoch()
    {
        BenchDevice.Synchronize(device);
        double epochMs = Stopwatch.GetElapsedTime(_epochStart).TotalMilliseconds;
        long images = TrainedImages(Learner.Data.Train.Count, Learner.Data.BatchSize);
        Epochs.Add(new EpochTiming(Learner.Epoch + 1, _trainMs, epochMs, images, ResidentMemory.Now()));
    }

    /// <summary>Images one training epoch sees: the last partial batch is dropped, as fastai does.</summary>
    public static long TrainedImages(long count, long batch) => count > batch ? count / batch * batch : count;
}
