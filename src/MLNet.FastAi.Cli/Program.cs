using MLNet.FastAi.Cli;
using MLNet.FastAi.Cli.Infrastructure;

return JemallocRelaunch.TryRun(args) ?? CliApp.Run(args, Console.Out, Console.Error);
