using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Data.Sources;

/// <summary>fastai's <c>RandomSplitter</c>: a seeded permutation whose first <c>⌊pct·n⌋</c> items are the validation set.</summary>
internal static class RandomSplit
{
    public static (int[] Train, int[] Valid) Split(int count, double validPct, int seed)
    {
        if (!(validPct > 0 && validPct < 1))
            throw new OptionException(OptionKey.ValidationFraction, validPct, $"{OptionKey.ValidationFraction} must be between 0 and 1 (exclusive); got {validPct}.");
        var order = Enumerable.Range(0, count).ToArray();
        // A fixed algorithm (Fisher–Yates over System.Random with a seed) so the split is the same on every machine.
        var random = new Random(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        int validCount = (int)(validPct * count);
        if (validCount == 0 || validCount == count)
            throw new OptionException(OptionKey.ValidationFraction, validPct,
                $"{OptionKey.ValidationFraction} {validPct} of {count} images leaves an empty {(validCount == 0 ? "validation" : "training")} set. Give {(validCount == 0 ? "a larger" : "a smaller")} {OptionKey.ValidationFraction} or more images.");
        var valid = order.Take(validCount).Order().ToArray();
        var train = order.Skip(validCount).Order().ToArray();
        return (train, valid);
    }
}
