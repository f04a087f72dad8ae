using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Data.Sources.Columns;

/// <summary>Which split, and which position in it, every row of each view goes to.</summary>
internal sealed record ColumnSplitPlan(List<(int View, int Row)> Train, List<(int View, int Row)> Valid, (int Split, int Position)[][] Targets)
{
    /// <param name="scans">The training view's rows, then the validation view's when there is one.</param>
    /// <param name="separateValidation">The second view is the validation data.</param>
    /// <param name="fraction">Otherwise, the fraction of training rows held out (fastai's RandomSplitter; none when 0).</param>
    /// <param name="seed">The split's seed.</param>
    public static ColumnSplitPlan Make(IReadOnlyList<ColumnRowScan> scans, bool separateValidation, double fraction, int seed)
    {
        var train = new List<(int, int)>();
        var valid = new List<(int, int)>();
        if (separateValidation)
        {
            train.AddRange(Enumerable.Range(0, scans[0].Count).Select(r => (0, r)));
            valid.AddRange(Enumerable.Range(0, scans[1].Count).Select(r => (1, r)));
        }
        else if (fraction > 0)
        {
            var (trainRows, validRows) = RandomSplit.Split(scans[0].Count, fraction, seed);
            train.AddRange(trainRows.Select(r => (0, r)));
            valid.AddRange(validRows.Select(r => (0, r)));
        }
        else
        {
            train.AddRange(Enumerable.Range(0, scans[0].Count).Select(r => (0, r)));
        }
        var targets = scans.Select(s => Enumerable.Repeat((-1, -1), s.Count).ToArray()).ToArray();
        for (int p = 0; p < train.Count; p++) targets[train[p].Item1][train[p].Item2] = (0, p);
        for (int p = 0; p < valid.Count; p++) targets[valid[p].Item1][valid[p].Item2] = (1, p);
        return new ColumnSplitPlan(train, valid, targets);
    }
}
