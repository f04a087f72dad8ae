using System.CommandLine;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Cli.Scoring;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Cli.Commands;

/// <summary>
/// <c>mlnet-fastai export-onnx &lt;model&gt; --out model.onnx</c>: the network as an ONNX file, from a learner checkpoint
/// (re-exported for batches, with friendly names) or from an ML.NET model zip (the ONNX model stored inside, as is).
/// </summary>
internal static class ExportOnnxCommand
{
    public static Command Create(CommandRunner runner)
    {
        var source = new Argument<string>("model")
        {
            Description = "A learner checkpoint (.ckpt, from train --checkpoint) or an ML.NET model zip (from train --out).",
        };
        var output = Options.Text("--out", "The ONNX file to write.", "model.onnx", "file");

        var command = new Command("export-onnx",
            "Write a trained network as an ONNX model, to run with ONNX Runtime anywhere.\n" +
            "From a checkpoint (.ckpt): the standalone export, as train --onnx writes it: input 'pixels' FLOAT [batch,3,H,W] " +
            "(planar RGB, 0..255), outputs 'Score' [batch,classes], 'PredictedIndex' and 'PredictedLabel'; no data needed.\n" +
            "From an ML.NET model zip: the ONNX model the zip carries, byte for byte: one image per run, input '__FastAiPixels' " +
            "[1,3,H,W] (planar RGB, 0..255), outputs '__FastAiScore' [classes] and '__FastAiPredictedOneHot' [classes]. " +
            "Both store the class names in the model metadata ('mlnet_fastai.classes').")
        {
            source, output,
        };

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            string input = InputPaths.RequireFile(parse.GetValue(source)!, "model");
            string target = InputPaths.PrepareOutputFile(parse.GetValue(output)!);
            switch (EmbeddedOnnx.KindOf(input))
            {
                case ModelFileKind.Checkpoint:
                    LearnerExport.ExportOnnxFromCheckpoint(input, target);
                    console.WriteLine($"Exported the checkpoint {InputPaths.Display(input)} to {InputPaths.Display(target)} (input 'pixels' [batch,3,H,W]; outputs Score, PredictedIndex, PredictedLabel).");
                    break;
                case ModelFileKind.MLNetZip:
                    var (inputs, outputs) = EmbeddedOnnx.Extract(input, target);
                    console.WriteLine($"Extracted the ONNX model of {InputPaths.Display(input)} to {InputPaths.Display(target)}.");
                    console.WriteLine($"  inputs:  {string.Join("; ", inputs)}");
                    console.WriteLine($"  outputs: {string.Join("; ", outputs)}");
                    break;
                default:
                    throw CliException.Input($"'{parse.GetValue(source)}' is neither a learner checkpoint nor an ML.NET model zip of this package.");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
