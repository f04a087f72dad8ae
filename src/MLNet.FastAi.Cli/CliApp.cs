using System.CommandLine;
using System.CommandLine.Help;
using MLNet.FastAi.Cli.Commands;
using MLNet.FastAi.Cli.Infrastructure;

namespace MLNet.FastAi.Cli;

/// <summary>
/// The whole tool behind one call: parses <c>args</c>, runs the command, and returns the exit code (see
/// <see cref="ExitCodes"/>). Everything is written to the given writers, so tests run the tool in-process.
/// </summary>
internal static class CliApp
{
    public const string ToolName = "mlnet-fastai";

    /// <summary>Runs the tool once; never throws for bad input, only returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var console = new CliConsole(output, error);
        var root = BuildRootCommand(console);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpWithExitCodes)
        {
            foreach (var parseError in parse.Errors) error.WriteLine($"error: {parseError.Message}");
            string command = string.Join(' ', CommandPath(parse.CommandResult.Command));
            error.WriteLine($"Run '{command} --help' for usage.");
            return ExitCodes.Usage;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        finally
        {
            output.Flush();
            error.Flush();
        }
    }

    /// <summary>The command tree: one file per command under Commands/.</summary>
    public static Command BuildRootCommand(CliConsole console)
    {
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Print full stack traces of errors (for bug reports).",
            Recursive = true,
        };
        var runner = new CommandRunner(console, verbose);
        // A plain Command named after the tool rather than a RootCommand, which takes its name from the host process
        // (the test host, or "dotnet" tools' shims), so that help reads "mlnet-fastai ..." however the tool is started.
        var root = new Command(ToolName,
            "fastai-style transfer learning for image classification with ML.NET (MLNet.FastAi): train a ResNet on a " +
            "folder of images, evaluate and interpret it, predict, and export it to ONNX. Models are ML.NET zips that " +
            "load with stock ML.NET.")
        {
            new HelpOption { Action = new HelpWithExitCodes() },
            new VersionOption(),
            verbose,
            TrainCommand.Create(runner),
            LrFindCommand.Create(runner),
            EvaluateCommand.Create(runner),
            PredictCommand.Create(runner),
            ExportOnnxCommand.Create(runner),
            InterpretCommand.Create(runner),
        };
        return root;
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? symbol = command; symbol is Command c; symbol = c.Parents.FirstOrDefault())
            names.Insert(0, c.Name);
        return names;
    }
}
