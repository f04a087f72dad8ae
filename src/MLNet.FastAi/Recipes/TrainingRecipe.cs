using Microsoft.ML;
using MLNet.FastAi.Data;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Recipes;

/// <summary>
/// One training run: the data (how images are loaded, cached, batched and augmented), the model and learner, and
/// the schedule. The ML.NET trainer and the command line build one and run it here; the fastai API's users make the
/// same calls themselves (<c>ImageDataLoaders</c>, <c>Learner.Vision</c>, <c>FineTune</c>).
/// </summary>
internal sealed record TrainingRecipe
{
    public ImageDataOptions Data { get; init; } = new();

    public VisionLearnerOptions Model { get; init; } = new();

    public FitSchedule Schedule { get; init; } = new();

    /// <summary>Train with fastai's <see cref="MixUp"/> at this alpha (its default 0.4); null for none.</summary>
    public double? MixUp { get; init; }

    /// <summary>Train with fastai's <see cref="CutMix"/> at this alpha (its default 1.0); null for none.</summary>
    public double? CutMix { get; init; }

    /// <summary>The same run with <paramref name="seed"/> for the data (split, shuffling, augmentation) and the learner (initialisation, dropout).</summary>
    public TrainingRecipe Seeded(int? seed) => this with { Data = Data with { Seed = seed }, Model = Model with { Seed = seed } };

    /// <summary>Refuses any setting out of range or at odds with another, naming it by key, before any work.</summary>
    public void Validate()
    {
        Data.Validate();
        Model.Validate();
        Schedule.Validate();
        OptionChecks.PositiveFinite(OptionKey.MixUp, MixUp);
        OptionChecks.PositiveFinite(OptionKey.CutMix, CutMix);
        OptionChecks.Refuse(MixUp is null || CutMix is null, OptionKey.CutMix, CutMix, $"{OptionKey.MixUp} and {OptionKey.CutMix} each mix every training batch; choose one.");
    }

    /// <summary>
    /// The data options to load with: a batch whose activations cannot fit is refused before any image is decoded
    /// (when training will run on the CPU).
    /// </summary>
    public ImageDataOptions LoadingOptions(MLContext? context) =>
        Data with { RefuseBeforeDecoding = Learner.ActivationCheckBeforeDecoding(Model, context) };

    /// <summary>The learner for <paramref name="data"/>, with <paramref name="callbacks"/> after the recipe's own.</summary>
    public Learner NewLearner(ImageDataLoaders data, IEnumerable<Callback> callbacks, MLContext? context)
    {
        var mixing = new List<Callback>();
        if (MixUp is { } mixUp) mixing.Add(new MixUp(mixUp));
        if (CutMix is { } cutMix) mixing.Add(new CutMix(cutMix));
        return Learner.Vision(data, Model with { Callbacks = Model.Callbacks.Concat(mixing).Concat(callbacks).ToList() }, context);
    }

    /// <summary>Trains <paramref name="learner"/> by the schedule.</summary>
    public void Train(Learner learner, CancellationToken cancellation) => Schedule.Run(learner, cancellation);
}
