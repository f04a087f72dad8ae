using System.Reflection;
using Microsoft.ML.Runtime;
using MLNet.FastAi.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// <c>mlContext.MulticlassClassification.Trainers.FastAiCnn(...)</c>: fastai-style transfer learning as an ML.NET
/// trainer. (In the <c>Microsoft.ML</c> namespace, as ML.NET's own catalog extensions are, so no extra using is needed.)
/// </summary>
public static class FastAiCatalog
{
    /// <summary>
    /// A CNN image classifier trained by fastai's recipe: ImageNet ResNet-18 body, fastai head, <c>fine_tune</c>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column (from <c>MapValueToKey</c>).</param>
    /// <param name="imageColumnName">The image column (see <paramref name="featureColumnName"/>, its ML.NET name); null for <c>ImagePath</c>.</param>
    /// <param name="imageFolder">Folder that relative paths start from.</param>
    /// <param name="epochs">Unfrozen epochs after one frozen epoch.</param>
    /// <param name="imageSize">Square side images are resized to; null uses the images' common size.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="featureColumnName">
    /// The image column by ML.NET's name: file paths, loaded images (<c>MLImage</c>) or encoded bytes
    /// (<c>LoadRawImageBytes</c>). Give this or <paramref name="imageColumnName"/>.
    /// </param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output key column of the predicted class.</param>
    /// <param name="validationSet">Validation data (same columns and label keys); null holds out 20% of the training data.</param>
    public static FastAiCnnEstimator FastAiCnn(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string? imageColumnName = null, string imageFolder = "", int epochs = 5,
        int? imageSize = null, int batchSize = 64, string? featureColumnName = null, string scoreColumnName = "Score",
        string predictedLabelColumnName = "PredictedLabel", IDataView? validationSet = null) =>
        catalog.FastAiCnn(new FastAiCnnOptions
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, FeatureColumnName = featureColumnName, ImageFolder = imageFolder,
            Epochs = epochs, ImageSize = imageSize, BatchSize = batchSize, ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName, ValidationSet = validationSet,
        });

    /// <summary>A CNN image classifier with every option of <see cref="FastAiCnnOptions"/>.</summary>
    public static FastAiCnnEstimator FastAiCnn(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, FastAiCnnOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new FastAiCnnEstimator(EnvironmentOf(catalog) ?? new MLContext(options.Seed), options);
    }

    /// <summary>
    /// The catalog's ML.NET environment (the user's MLContext), for logging and GPU settings. ML.NET keeps that
    /// property internal (dotnet/machinelearning#4911), so it is read by reflection; without it a fresh context is used.
    /// ML.NET 5 implements it explicitly, as <c>Microsoft.ML.Data.IInternalCatalog.Environment</c>, so the property is
    /// found by the end of its name.
    /// </summary>
    internal static IHostEnvironment? EnvironmentOf(object catalog)
    {
        for (var type = catalog.GetType(); type is not null; type = type.BaseType)
        {
            var property = type.GetProperties(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly)
                .FirstOrDefault(p => (p.Name == "Environment" || p.Name.EndsWith(".Environment", StringComparison.Ordinal))
                    && typeof(IHostEnvironment).IsAssignableFrom(p.PropertyType) && p.GetIndexParameters().Length == 0);
            if (property?.GetValue(catalog) is IHostEnvironment environment) return environment;
        }
        return null;
    }
}
