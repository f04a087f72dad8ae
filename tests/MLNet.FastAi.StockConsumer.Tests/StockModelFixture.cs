using System.Text.Json;
using Microsoft.ML;

namespace MLNet.FastAi.StockConsumer.Tests;

/// <summary>The generated fixture (see the project file): the saved model, its images and the reference scores.</summary>
public sealed class StockModelFixture : IDisposable
{
    private readonly List<IDisposable> _loaded = [];

    public StockModelFixture()
    {
        Folder = Path.Combine(AppContext.BaseDirectory, "stock-fixture");
        string expectedPath = Path.Combine(Folder, "expected.json");
        ZipPath = Path.Combine(Folder, "model.zip");
        if (!File.Exists(expectedPath) || !File.Exists(ZipPath))
            throw new InvalidOperationException(
                $"The stock consumer fixture is missing from {Folder}. It is written by the GenerateStockConsumerFixture target " +
                "when this project builds (it runs MLNet.FastAi.StockConsumer.Fixture); build the project or solution again and read that step's output.");
        Expected = JsonSerializer.Deserialize<ExpectedScores>(File.ReadAllText(expectedPath), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
            ?? throw new InvalidDataException($"{expectedPath} is empty.");
        Rows = Expected.Images.Select(i => new ImageRow { ImagePath = Path.Combine(Folder, "images", i.File), Label = i.Label }).ToArray();
    }

    public string Folder { get; }
    public string ZipPath { get; }
    public ExpectedScores Expected { get; }
    public ImageRow[] Rows { get; }

    /// <summary>
    /// Loads the zip the way an application does. The fixture disposes what it loaded: ML.NET's ONNX transformer keeps
    /// a copy of the network in the temporary folder until then.
    /// </summary>
    public ITransformer Load(MLContext context, out DataViewSchema inputSchema)
    {
        var model = context.Model.Load(ZipPath, out inputSchema);
        if (model is IDisposable disposable) lock (_loaded) _loaded.Add(disposable);
        return model;
    }

    public void Dispose()
    {
        lock (_loaded) foreach (var model in _loaded) model.Dispose();
    }

    public sealed class ExpectedScores
    {
        public string[] Classes { get; set; } = [];
        public ExpectedImage[] Images { get; set; } = [];
    }

    public sealed class ExpectedImage
    {
        public string File { get; set; } = "";
        public string Label { get; set; } = "";
        public string Predicted { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
