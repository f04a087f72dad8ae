using System.Diagnostics;
using MLNet.FastAi.Bench.Infrastructure;
using MLNet.FastAi.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Bench.Training;

/// <summary>
/// The least a training epoch can be in TorchSharp: for each batch of the same <see cref="BatchLoader"/> the learner
/// uses, forward, cross-entropy, backward, optimizer step, zero the gradients; then a validation pass that counts
/// correct predictions on the device. No callbacks, no recorder, no metrics objects: the yardstick for the learner.
/// </summary>
internal sealed class BareTrainingLoop(nn.Module<Tensor, Tensor> model, IStepOptimizer optimizer, BatchLoader train, BatchLoader valid, Device device)
{
    public EpochTiming RunEpoch(int epoch)
    {
        BenchDevice.Synchronize(device);
        long start = Stopwatch.GetTimestamp();
        model.train();
        long trained = 0;
        using (var batches = train.Batches(epoch).GetEnumerator())
        {
            while (true)
            {
                // As in the learner: one scope per batch, opened before the loader makes the batch's tensors.
                using var scope = NewDisposeScope();
                if (!batches.MoveNext()) break;
                var batch = batches.Current;
                var loss = nn.functional.cross_entropy(model.call(batch.Images), batch.Labels);
                loss.backward();
                optimizer.Step();
                optimizer.ZeroGrad();
                trained += batch.Images.shape[0];
            }
        }
        BenchDevice.Synchronize(device);
        double trainMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

        model.eval();
        using (no_grad())
        {
            using var correct = zeros(1, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            using var batches = valid.Batches(epoch).GetEnumerator();
            while (true)
            {
                using var scope = NewDisposeScope();
                if (!batches.MoveNext()) break;
                var batch = batches.Current;
                correct.add_(model.call(batch.Images).argmax(1).eq(batch.Labels).sum());
            }
            // Reading the count waits for the device, as the learner's metrics do at the end of validation.
            _ = correct.cpu().item<long>();
        }
        BenchDevice.Synchronize(device);
        double epochMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return new EpochTiming(epoch + 1, trainMs, epochMs, trained, ResidentMemory.Now());
    }
}
