using MLNet.FastAi.Cli;

return CliApp.Run(args, Console.Out, Console.Error);
