using System.CommandLine;
using System.Globalization;
using MLNet.FastAi.Cli.Infrastructure;
using MLNet.FastAi.Cli.Training;
using MLNet.FastAi.Recipes;
using MLNet.FastAi.Settings;
using MLNet.FastAi.Interpretation;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Cli.Commands;

/// <summary><c>mlnet-fastai lr-find &lt;data&gt;</c>: fastai's lr_find on a fresh learner; prints the suggestions and draws the curve.</summary>
internal static class LrFindCommand
{
    public static Command Create(CommandRunner runner)
    {
        var data = new TrainingDataOptions();
        var model = new ModelOptions();
        var startLr = Options.PositiveNumber("--start-lr", "First learning rate tried.", 1e-7);
        var endLr = Options.PositiveNumber("--end-lr", "Last learning rate tried.", 10);
        var iterations = Options.Int("--iterations", "Training batches to run (fewer when the loss diverges first).", 100, 2, 100_000);
        var plot = Options.Text("--plot", "The PNG of loss against learning rate, with the suggestions marked.", "lr_find.png", "file.png");

        var command = new Command("lr-find",
            "Find a good learning rate (fastai's lr_find): train a fresh learner for a few batches with a learning rate growing " +
            "exponentially, print the suggestions (valley, minimum, steep, slide) and plot the curve. Takes the data and model " +
            "options of train.");
        data.AddTo(command);
        model.AddTo(command);
        foreach (var option in new Option[] { startLr, endLr, iterations, plot }) command.Add(option);

        runner.SetAction(command, parse =>
        {
            var console = runner.Console;
            double start = parse.GetValue(startLr)!.Value, end = parse.GetValue(endLr)!.Value;
            if (!(end > start)) throw CliException.Usage(string.Create(CultureInfo.InvariantCulture, $"--end-lr ({end:g3}) must be greater than --start-lr ({start:g3})."));
            var recipe = new TrainingRecipe { Data = data.Build(parse), Model = model.Build(parse) }.Seeded(parse.GetValue(data.Seed));
            recipe.Validate();
            string plotPath = InputPaths.PrepareOutputFile(parse.GetValue(plot)!);

            using var loaders = data.Load(parse, console, recipe);
            using var learner = recipe.NewLearner(loaders, [], null);
            console.WriteLine($"Model: {recipe.Model.Architecture.Name} ({(learner.IsPretrained ? "pretrained, body frozen" : "random initial weights")}); device {learner.Device.type}.");
            var result = learner.LrFind(start, end, parse.GetValue(iterations), suggestions: LrSuggestions.Names);
            console.WriteLine($"Ran {result.LearningRates.Count} batches. Suggested learning rates:");
            foreach (var suggestion in result.Suggestions)
                console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {suggestion.Name,-8} {suggestion.LearningRate:0.00e+00}"));
            result.Plot(plotPath);
            console.WriteLine($"Saved the plot: {InputPaths.Display(plotPath)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
