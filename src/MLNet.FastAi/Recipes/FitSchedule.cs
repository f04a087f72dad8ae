using System.Globalization;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Recipes;

/// <summary>
/// What a training run calls on its learner: <c>FineTune</c>, <c>FitOneCycle</c> or <c>Fit</c>, with their arguments.
/// A setting left null takes the learner's default; a setting the chosen schedule does not use is refused rather
/// than ignored.
/// </summary>
internal sealed record FitSchedule
{
    /// <summary>Epochs when none are given (the unfrozen epochs of fine-tuning).</summary>
    public const int DefaultEpochs = 5;

    public TrainingSchedule Kind { get; init; } = TrainingSchedule.FineTune;

    public int Epochs { get; init; } = DefaultEpochs;

    /// <summary>fine_tune's frozen epochs; null: <see cref="Learner.DefaultFreezeEpochs"/>.</summary>
    public int? FreezeEpochs { get; init; }

    /// <summary>fine_tune's base learning rate; null: <see cref="Learner.DefaultBaseLearningRate"/>.</summary>
    public double? BaseLearningRate { get; init; }

    /// <summary>The rate of fit_one_cycle (its peak) and fit; null: the learner's <see cref="VisionLearnerOptions.LearningRate"/>.</summary>
    public double? LearningRate { get; init; }

    /// <summary>fit_one_cycle and fit: train every layer of a pretrained model; null: the body stays frozen.</summary>
    public bool? Unfreeze { get; init; }

    public bool IsFineTune => Kind == TrainingSchedule.FineTune;

    /// <summary>Epochs the run trains, frozen ones included.</summary>
    public int PlannedEpochs => IsFineTune ? (FreezeEpochs ?? Learner.DefaultFreezeEpochs) + Epochs : Epochs;

    public void Validate()
    {
        OptionChecks.Refuse(Enum.IsDefined(Kind), OptionKey.Schedule, Kind, $"{OptionKey.Schedule} must be FineTune, OneCycle or Constant; got {Kind}.");
        OptionChecks.AtLeast(OptionKey.Epochs, Epochs, 1);
        OptionChecks.AtLeast(OptionKey.FreezeEpochs, FreezeEpochs, 0);
        OptionChecks.PositiveFinite(OptionKey.BaseLearningRate, BaseLearningRate);
        OptionChecks.PositiveFinite(OptionKey.LearningRate, LearningRate);
        string name = Name;
        if (IsFineTune)
        {
            OptionChecks.Refuse(LearningRate is null, OptionKey.LearningRate, LearningRate,
                $"{OptionKey.LearningRate} applies to one-cycle and fit; fine-tune takes {OptionKey.BaseLearningRate}.");
            OptionChecks.Refuse(Unfreeze is null, OptionKey.Unfreeze, Unfreeze,
                $"{OptionKey.Unfreeze} applies to one-cycle and fit; fine-tune unfreezes after {OptionKey.FreezeEpochs}.");
        }
        else
        {
            OptionChecks.Refuse(BaseLearningRate is null, OptionKey.BaseLearningRate, BaseLearningRate,
                $"{OptionKey.BaseLearningRate} applies to fine-tune; {name} takes {OptionKey.LearningRate}.");
            OptionChecks.Refuse(FreezeEpochs is null, OptionKey.FreezeEpochs, FreezeEpochs, $"{OptionKey.FreezeEpochs} applies to fine-tune, not {name}.");
        }
    }

    /// <summary>Trains <paramref name="learner"/> by this schedule.</summary>
    public void Run(Learner learner, CancellationToken cancellation)
    {
        if (IsFineTune)
        {
            learner.FineTune(Epochs, BaseLearningRate ?? Learner.DefaultBaseLearningRate, FreezeEpochs ?? Learner.DefaultFreezeEpochs, cancellation: cancellation);
            return;
        }
        if (Unfreeze == true) learner.Unfreeze();
        if (Kind == TrainingSchedule.OneCycle) learner.FitOneCycle(Epochs, LearningRate, cancellation: cancellation);
        else learner.Fit(Epochs, LearningRate, cancellation: cancellation);
    }

    /// <summary>The fastai call this schedule makes, e.g. <c>fine_tune(5, base_lr=0.002, freeze_epochs=1)</c>.</summary>
    public string Describe(VisionLearnerOptions model) => Kind switch
    {
        TrainingSchedule.FineTune => Invariant($"fine_tune({Epochs}, base_lr={BaseLearningRate ?? Learner.DefaultBaseLearningRate:g3}, freeze_epochs={FreezeEpochs ?? Learner.DefaultFreezeEpochs})"),
        TrainingSchedule.OneCycle => Invariant($"fit_one_cycle({Epochs}, lr_max={LearningRate ?? model.LearningRate:g3}){(Unfreeze == true ? ", unfrozen" : "")}"),
        _ => Invariant($"fit({Epochs}, lr={LearningRate ?? model.LearningRate:g3}){(Unfreeze == true ? ", unfrozen" : "")}"),
    };

    /// <summary>The schedule's name in words: fine-tune, one-cycle or fit.</summary>
    private string Name => Kind switch { TrainingSchedule.FineTune => "fine-tune", TrainingSchedule.OneCycle => "one-cycle", _ => "fit" };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
