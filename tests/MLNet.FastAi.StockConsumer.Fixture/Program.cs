using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.StockConsumer.Fixture;
using MLNet.FastAi.Tests.Pipelines;
using MLNet.FastAi.Tests.Onnx;
using MLNet.FastAi.Vision;
using static TorchSharp.torch;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: MLNet.FastAi.StockConsumer.Fixture <output folder>");
    return 2;
}

string target = Path.GetFullPath(args[0]);
// Written aside and moved into place, so an interrupted run never leaves a fixture that looks complete.
string staging = $"{target}.{Environment.ProcessId}.tmp";
if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
FixtureWriter.Write(staging);
if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
Directory.Move(staging, target);
Console.WriteLine($"Stock consumer fixture written to {target}");
return 0;

namespace MLNet.FastAi.StockConsumer.Fixture
{
    internal static class FixtureWriter
    {
        private static readonly string[] Classes = ["zebra", "ant", "cat"];  // not sorted: the key order must follow this list

        public static void Write(string folder)
        {
            var stats = NormalizationStats.ImageNet;
            var pipeline = new ImagePipeline(32, 24, ResizeMethod.Crop);
            string[] files = TestImages.Write(Path.Combine(folder, "images"), 6, seed: 5);
            var context = new MLContext(seed: 1);
            var rows = files.Select((file, i) => new Row { ImagePath = Path.Combine(folder, "images", file), Label = Classes[i % Classes.Length] }).ToArray();
            var data = context.Data.LoadFromEnumerable(rows);

            using var model = TestCnn.Create(ResNetArchitecture.ResNet18, Classes.Length, pipeline.Height, pipeline.Width, seed: 17, stats);
            // Image paths are given absolute at scoring time, so the saved model holds no folder of this machine.
            using var chain = StockScoringChain.Fit(context, data, nameof(Row.ImagePath), "", pipeline, model, stats, Classes);
            context.Model.Save(chain, data.Schema, Path.Combine(folder, "model.zip"));

            // Reference scores come from TorchSharp on the pixels ML.NET decodes, not from the chain under test.
            var decode = pipeline.BuildEstimator(context, nameof(Row.ImagePath), true, "Pixels", asFloat: true);
            float[][] pixels = decode.Fit(data).Transform(data).GetColumn<float[]>("Pixels").ToArray();
            float[] reference;
            using (var scope = NewDisposeScope())
                reference = TestCnn.Probabilities(model, tensor(pixels.SelectMany(p => p).ToArray()).reshape(pixels.Length, 3, pipeline.Height, pipeline.Width), stats);
            var predicted = context.Transforms.Conversion.MapKeyToValue(StockScoringChain.PredictedLabelColumn).Fit(chain.Transform(data))
                .Transform(chain.Transform(data)).GetColumn<string>(StockScoringChain.PredictedLabelColumn).ToArray();

            var expected = new
            {
                classes = Classes,
                images = rows.Select((row, i) => new
                {
                    file = Path.GetFileName(row.ImagePath),
                    label = row.Label,
                    predicted = predicted[i],
                    score = reference.Skip(i * Classes.Length).Take(Classes.Length).ToArray(),
                }).ToArray(),
            };
            File.WriteAllText(Path.Combine(folder, "expected.json"), JsonSerializer.Serialize(expected, new JsonSerializerOptions { WriteIndented = true }));
        }

        private sealed class Row
        {
            public string ImagePath { get; set; } = "";
            public string Label { get; set; } = "";
        }
    }
}
