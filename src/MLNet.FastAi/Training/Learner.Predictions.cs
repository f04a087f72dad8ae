using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>Predictions for a split (fastai's <c>get_preds</c> output), in the split's order.</summary>
/// <param name="Split">The images predicted.</param>
/// <param name="Probabilities">Softmax probabilities, one row per image, one column per class.</param>
/// <param name="Targets">True class index per image (-1 where unknown).</param>
/// <param name="Decoded">Predicted class index per image (argmax).</param>
/// <param name="Losses">Per-image cross-entropy losses (only when asked for and labels are known).</param>
public sealed record PredictionSet(ImageSplit Split, float[][] Probabilities, int[] Targets, int[] Decoded, float[]? Losses)
{
    /// <summary>Class names, in index order.</summary>
    public IReadOnlyList<string> Classes => Split.Classes;

    /// <summary>Number of images.</summary>
    public int Count => Decoded.Length;

    /// <summary>Fraction of labelled images predicted right (NaN without labels).</summary>
    public double Accuracy
    {
        get
        {
            int labelled = Targets.Count(t => t >= 0);
            return labelled == 0 ? double.NaN : (double)Targets.Where((t, i) => t >= 0 && t == Decoded[i]).Count() / labelled;
        }
    }

    /// <summary>The predicted class name of image <paramref name="i"/>.</summary>
    public string PredictedLabel(int i) => Classes[Decoded[i]];
}

/// <summary>A prediction for one image (fastai's <c>predict</c>: decoded label, index, probabilities).</summary>
/// <param name="Label">The predicted class name.</param>
/// <param name="Index">Its index in the class list.</param>
/// <param name="Probabilities">Probability of every class.</param>
public sealed record SinglePrediction(string Label, int Index, float[] Probabilities);

public sealed partial class Learner
{
    /// <summary>
    /// Predictions for a split: the validation set by default (fastai's <c>get_preds(ds_idx=1)</c>), or
    /// <see cref="ImageDataLoaders.Train"/>, <see cref="ImageDataLoaders.Test"/>, or any split from
    /// <see cref="ImageDataLoaders.TestSplit"/>. No augmentation, no shuffling, in the split's order.
    /// </summary>
    /// <param name="split">The images; null means the validation set.</param>
    /// <param name="withLoss">Also compute per-image losses (needs labels).</param>
    public PredictionSet GetPreds(ImageSplit? split = null, bool withLoss = false)
    {
        using var use = Use(nameof(GetPreds));
        return Collect(split ?? Data.Valid, withLoss, augmentation: null, seed: Data.Seed);
    }

    /// <summary>Predicts one image file (fastai's <c>predict</c>).</summary>
    public SinglePrediction Predict(string imagePath) => Predict(new[] { imagePath })[0];

    /// <summary>Predicts several image files in batches.</summary>
    public IReadOnlyList<SinglePrediction> Predict(IEnumerable<string> imagePaths)
    {
        using var use = Use(nameof(Predict));  // before decoding: the data loaders are shared with a running fit
        var split = Data.TestSplit(imagePaths);
        try
        {
            var p = GetPreds(split);
            return Enumerable.Range(0, p.Count).Select(i => new SinglePrediction(p.PredictedLabel(i), p.Decoded[i], p.Probabilities[i])).ToList();
        }
        finally
        {
            // The split exists only for this call; keeping its decoded images would grow memory with every prediction.
            Data.Release(split);
        }
    }

    /// <summary>Validation loss and metrics on a split (fastai's <c>validate</c>), without training.</summary>
    public (double Loss, IReadOnlyDictionary<string, double> Metrics) Validate(ImageSplit? split = null)
    {
        using var use = Use(nameof(Validate));
        split ??= Data.Valid;
        var p = GetPreds(split, withLoss: true);
        if (p.Losses is null) throw new InvalidOperationException($"The {split.Name} set has no labels to validate against.");
        var metrics = new Dictionary<string, double>();
        using (var scope = NewDisposeScope())
        {
            var logits = tensor(p.Probabilities.SelectMany(r => r).ToArray(), new long[] { p.Count, Data.ClassCount }).log();
            var targets = tensor(p.Targets.Select(t => (long)t).ToArray());
            foreach (var m in Metrics)
            {
                m.Reset(Data.ClassCount, CPU);
                m.Accumulate(logits, targets);
                metrics[m.Name] = m.Compute();
            }
        }
        return (p.Losses.Average(), metrics);
    }

    internal PredictionSet Collect(ImageSplit split, bool withLoss, AugmentationOptions? augmentation, int seed)
    {
        if (_inPhase) throw new InvalidOperationException("Predictions cannot be taken in the middle of a training or validation phase; use AfterEpoch or AfterFit.");
        bool wasTraining = _model.training;
        _model.eval();
        var probabilities = new List<float[]>(split.Count);
        var losses = withLoss && split.IsLabeled ? new List<float>(split.Count) : null;
        var targets = new List<int>(split.Count);
        try
        {
            using var loader = Data.OrderedLoader(split, Device, Normalization, augmentation, seed);
            using var _ = no_grad();
            using var batches = loader.Batches(0).GetEnumerator();
            using var generator = augmentation is null ? null : new Generator((ulong)seed);
            while (true)
            {
                using var scope = NewDisposeScope();
                if (!batches.MoveNext()) break;
                var batch = batches.Current;
                var logits = _model.call(batch.Images);
                var probs = nn.functional.softmax(logits, 1).cpu();
                int rows = (int)probs.shape[0], classes = (int)probs.shape[1];
                var flat = probs.data<float>().ToArray();
                for (int r = 0; r < rows; r++) probabilities.Add(flat.AsSpan(r * classes, classes).ToArray());
                targets.AddRange(batch.Labels.cpu().data<long>().ToArray().Select(t => (int)t));
                if (losses is not null)
                    losses.AddRange(LossFunction(logits, batch.Labels, nn.Reduction.None).cpu().data<float>().ToArray());
            }
        }
        finally
        {
            _model.train(wasTraining);
        }
        var probArray = probabilities.ToArray();
        return new PredictionSet(Data.SplitFor(split), probArray, targets.ToArray(), probArray.Select(ArgMax).ToArray(), losses?.ToArray());
    }

    internal static int ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
