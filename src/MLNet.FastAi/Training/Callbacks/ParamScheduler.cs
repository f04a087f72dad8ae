
namespace MLNet.FastAi.Training.Callbacks;

/// <summary>
/// Sets hyper-parameters before every training batch from schedules of training progress (fastai's
/// <c>ParamScheduler</c>). Keys are "lr" and "mom"; each has one schedule per parameter group.
/// </summary>
public sealed class ParamScheduler : Callback
{
    private readonly IReadOnlyDictionary<string, IReadOnlyList<Schedule>> _schedules;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="schedules">"lr" and/or "mom" → one schedule per parameter group (or one for all).</param>
    public ParamScheduler(IReadOnlyDictionary<string, IReadOnlyList<Schedule>> schedules)
    {
        foreach (var key in schedules.Keys)
            if (key is not ("lr" or "mom" or "wd"))
                throw new ArgumentException($"Unknown hyper-parameter '{key}'; schedulable: lr, mom, wd.", nameof(schedules));
        _schedules = schedules;
    }

    /// <inheritdoc/>
    public override int Order => 10;

    /// <inheritdoc/>
    public override void BeforeBatch()
    {
        if (!Learner.IsTraining) return;
        double pct = Learner.PctTrain;
        var hypers = Learner.Hypers;
        foreach (var (key, schedules) in _schedules)
            for (int g = 0; g < hypers.Count; g++)
            {
                double value = schedules[Math.Min(g, schedules.Count - 1)](pct);
                switch (key)
                {
                    case "lr": hypers[g].LearningRate = value; break;
                    case "mom": hypers[g].Momentum = value; break;
                    case "wd": hypers[g].WeightDecay = value; break;
                }
            }
    }
}
