using MLNet.FastAi.Serving;

// Two ways in: the parent measures everything and starts fresh copies of itself for the cold starts; a child
// (--first-prediction) loads one zip, predicts one image, prints its timings as one JSON line and exits.
try
{
    return args.Length > 0 && args[0] == "--first-prediction"
        ? ColdStart.RunChild(args)
        : ServingBench.Run(ServingArgs.Parse(args));
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(ServingArgs.Usage);
    return 2;
}
