using System.Reflection;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Augmentation;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Training;
using MLNet.FastAi.Training.Callbacks;
using MLNet.FastAi.Training.Metrics;
using MLNet.FastAi.Vision;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>
/// <see cref="FastAiCnnOptions"/> is a view of the training run the engine trains, not a copy: each setting it shares
/// with <see cref="ImageDataOptions"/> or <see cref="VisionLearnerOptions"/> starts at the engine's default and
/// writes through to the run, and each is named in the one table of settings.
/// </summary>
public sealed class EstimatorOptionsViewTests
{
    // ML.NET trainers log rather than print: the estimator's one deliberate default of its own.
    private static readonly string[] EstimatorDefaults = [nameof(FastAiCnnOptions.ShowProgress)];

    public static TheoryData<string> SharedSettings()
    {
        var data = new TheoryData<string>();
        foreach (var name in Shared().Select(p => p.Estimator.Name).Distinct()) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(SharedSettings))]
    public void ASharedSetting_StartsAtTheEnginesDefault_AndWritesThroughToTheRun(string name)
    {
        var (estimator, engine, owner) = Shared().First(p => p.Estimator.Name == name);
        var options = new FastAiCnnOptions();
        object engineDefaults = owner == typeof(ImageDataOptions) ? new ImageDataOptions() : new VisionLearnerOptions();
        if (!EstimatorDefaults.Contains(name))
            Assert.Equal(engine.GetValue(engineDefaults), estimator.GetValue(options));

        object changed = Changed(estimator.PropertyType, estimator.GetValue(options));
        estimator.SetValue(options, changed);
        object run = owner == typeof(ImageDataOptions) ? options.Recipe.Data : options.Recipe.Model;
        Assert.Equal(changed, engine.GetValue(run));
        Assert.Contains(typeof(OptionKey).GetFields(BindingFlags.Public | BindingFlags.Static), f => f.Name == name);
    }

    [Fact]
    public void TheScheduleSettings_AreTheLearnersDefaults()
    {
        var options = new FastAiCnnOptions();
        Assert.Equal(Learner.DefaultBaseLearningRate, options.BaseLearningRate);
        Assert.Equal(Learner.DefaultFreezeEpochs, options.FreezeEpochs);
        Assert.Equal(new VisionLearnerOptions().LearningRate, options.LearningRate);
        Assert.Equal(TrainingSchedule.FineTune, options.Schedule);
    }

    private static IEnumerable<(PropertyInfo Estimator, PropertyInfo Engine, Type Owner)> Shared() =>
        from estimator in typeof(FastAiCnnOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        from owner in new[] { typeof(ImageDataOptions), typeof(VisionLearnerOptions) }
        let engine = owner.GetProperty(estimator.Name)
        // The estimator's LearningRate is the schedule's rate (fit_one_cycle's lr_max), checked below.
        where engine is not null && engine.PropertyType == estimator.PropertyType && estimator.Name != nameof(FastAiCnnOptions.LearningRate)
        select (estimator, engine!, owner);

    private static object Changed(Type type, object? current) => type switch
    {
        _ when type == typeof(bool) => !(bool)current!,
        _ when type == typeof(int) => (int)current! + 1,
        _ when type == typeof(long) => (long)current! + 1,
        _ when type == typeof(double) => (double)current! / 2,
        _ when type == typeof(int?) => 7,
        _ when type == typeof(long?) => 7L,
        _ when type == typeof(string) => "changed",
        _ when type.IsEnum => Enum.GetValues(type).Cast<object>().First(v => !v.Equals(current)),
        _ when Nullable.GetUnderlyingType(type) is { IsEnum: true } inner => Enum.GetValues(inner).Cast<object>().First(v => !v.Equals(current)),
        _ when type == typeof((double, double, double)) => (0.9, 0.8, 0.9),
        _ when type == typeof(NormalizationStats) => NormalizationStats.Mnist,
        _ when type == typeof(AugmentationOptions) => AugmentationOptions.Default,
        _ when type == typeof(ResNetArchitecture) => ResNetArchitecture.ResNet34,
        _ when type == typeof(IReadOnlyList<Func<Metric>>) => new List<Func<Metric>>(),
        _ when type == typeof(IReadOnlyList<Callback>) => new List<Callback>(),
        _ => throw new NotSupportedException($"No changed value for {type}"),
    };
}
