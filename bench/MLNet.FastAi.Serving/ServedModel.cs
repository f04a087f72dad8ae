using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Serving;

/// <summary>One image path in, whatever the zip names its input column.</summary>
internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
}

/// <summary>The class name and the probabilities, as an application reads them.</summary>
internal sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";

    public float[] Score { get; set; } = [];
}

/// <summary>A zip loaded the way an application loads it, with the schema mapping it needs to take image paths.</summary>
internal sealed class ServedModel
{
    private readonly SchemaDefinition _input;

    private ServedModel(MLContext context, ITransformer model, SchemaDefinition input)
    {
        Context = context;
        Model = model;
        _input = input;
    }

    public MLContext Context { get; }

    public ITransformer Model { get; }

    public static ServedModel Load(string path)
    {
        var context = new MLContext(seed: 0);
        var model = context.Model.Load(path, out var inputSchema);
        var text = inputSchema.Where(c => c.Type is TextDataViewType).ToList();
        if (text.Count != 1)
            throw new UsageException($"the model '{path}' takes {inputSchema.Count} input column(s) ({string.Join(", ", inputSchema.Select(c => $"'{c.Name}' {c.Type}"))}); this benchmark feeds one text column of image paths.");
        var input = SchemaDefinition.Create(typeof(ImageRow));
        input[0].ColumnName = text[0].Name;
        return new ServedModel(context, model, input);
    }

    public IDataView Rows(IEnumerable<string> paths) =>
        Context.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }), _input);

    /// <summary>A new engine that leaves the model alive when disposed, with the predicted key turned back into its class name as applications do.</summary>
    public PredictionEngine<ImageRow, Prediction> NewEngine(string sampleImage)
    {
        var sample = Model.Transform(Rows([sampleImage]));
        var withNames = Model.Append(Context.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(sample));
        // ML.NET's engines own their transformer by default: disposing one would dispose the loaded model's ONNX
        // session under every other engine made from it.
        return Context.Model.CreatePredictionEngine<ImageRow, Prediction>(withNames,
            new PredictionEngineOptions { InputSchemaDefinition = _input, OwnsTransformer = false });
    }

    /// <summary>The label of every image from one batch Transform.</summary>
    public string[] ScoreAll(IReadOnlyList<string> paths)
    {
        var scored = Model.Transform(Rows(paths));
        var named = Context.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
        return named.GetColumn<string>("PredictedLabel").ToArray();
    }
}
