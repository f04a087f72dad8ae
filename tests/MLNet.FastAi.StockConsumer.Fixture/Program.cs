using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FastAi.Scoring;
using MLNet.FastAi.Data;
using MLNet.FastAi.Data.Decoding;
using MLNet.FastAi.Pipelines;
using MLNet.FastAi.StockConsumer.Fixture;
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
            // Images already at the model's size, with pixels this program chooses: the reference below feeds those
            // pixels to TorchSharp directly, so a wrong decode or resize setting in the chain cannot hit both sides.
            var images = Enumerable.Range(0, 6).Select(i => KnownPixels(pipeline.Width, pipeline.Height, i)).ToArray();
            string[] files = images.Select((pixels, i) => WritePng(Path.Combine(folder, "images"), $"image{i}.png", pipeline.Width, pipeline.Height, pixels)).ToArray();
            var context = new MLContext(seed: 1);
            var rows = files.Select((file, i) => new Row { ImagePath = Path.Combine(folder, "images", file), Label = Classes[i % Classes.Length] }).ToArray();
            var data = context.Data.LoadFromEnumerable(rows);

            using var model = TestCnn.Create(ResNetArchitecture.ResNet18, Classes.Length, pipeline.Height, pipeline.Width, seed: 17, stats);
            // Image paths are given absolute at scoring time, so the saved model holds no folder of this machine.
            using var chain = StockScoringChain.Fit(context, data, nameof(Row.ImagePath), "", pipeline, model, stats, Classes);
            context.Model.Save(chain, data.Schema, Path.Combine(folder, "model.zip"));

            // Reference scores come from TorchSharp on the pixels written into the PNGs, not from the chain under test.
            float[] reference;
            using (var scope = NewDisposeScope())
                reference = TestCnn.Probabilities(model, tensor(images.SelectMany(p => p).ToArray()).reshape(images.Length, 3, pipeline.Height, pipeline.Width), stats);
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

        /// <summary>Planar R, G, B values (0..255) of image <paramref name="index"/>: gradients with a tint of its own.</summary>
        private static float[] KnownPixels(int width, int height, int index)
        {
            var planes = new float[3 * width * height];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int at = y * width + x;
                    planes[at] = (7 * x + 40 * index) % 256;
                    planes[width * height + at] = (9 * y + 70 * index) % 256;
                    planes[2 * width * height + at] = (3 * (x + y) + 110 * index) % 256;
                }
            return planes;
        }

        /// <summary>An opaque RGB PNG (lossless) holding exactly <paramref name="planes"/>; returns the file name.</summary>
        private static string WritePng(string folder, string name, int width, int height, float[] planes)
        {
            Directory.CreateDirectory(folder);
            using var bitmap = new SkiaSharp.SKBitmap(width, height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque);
            int plane = width * height;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    bitmap.SetPixel(x, y, new SkiaSharp.SKColor((byte)planes[y * width + x], (byte)planes[plane + y * width + x], (byte)planes[2 * plane + y * width + x]));
            using var png = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(folder, name), png.ToArray());
            return name;
        }

        private sealed class Row
        {
            public string ImagePath { get; set; } = "";
            public string Label { get; set; } = "";
        }
    }
}
