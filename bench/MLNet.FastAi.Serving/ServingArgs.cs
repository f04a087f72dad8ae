namespace MLNet.FastAi.Serving;

/// <summary>A mistake in the command line, reported with the usage text.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The command line of the serving benchmark.</summary>
internal sealed record ServingArgs(
    IReadOnlyList<string> Models, string Images, int Limit, int ColdRuns, int Soak, int Threads, string? Json)
{
    public const string Usage = """
        usage: MLNet.FastAi.Serving --model ZIP [--model ZIP ...] --images FOLDER
                                    [--limit 200] [--cold-runs 5] [--soak 20000] [--threads 8] [--json FILE]
          --model      a zip saved by MLNet.FastAi (SaveMLNetModel, the estimator, mlnet-fastai train/export);
                       each one is measured the same way, cold starts alternated between them
          --images     a folder of images (searched recursively): the first --limit are scored
          --cold-runs  fresh processes per zip for process start -> first prediction
          --soak       single predictions in one PredictionEngine, resident memory sampled along the way
                       (0: none); the same count again spread over --threads engines, one per thread
        """;

    public static ServingArgs Parse(string[] args)
    {
        var models = new List<string>();
        string? images = null, json = null;
        int limit = 200, coldRuns = 5, soak = 20_000, threads = 8;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            int Count(int minimum)
            {
                string name = args[i], text = Value();
                return int.TryParse(text, out int n) && n >= minimum ? n : throw new UsageException($"{name} takes a whole number of at least {minimum}, not '{text}'.");
            }
            switch (args[i])
            {
                case "--model": models.Add(Path.GetFullPath(Value())); break;
                case "--images": images = Path.GetFullPath(Value()); break;
                case "--limit": limit = Count(1); break;
                case "--cold-runs": coldRuns = Count(0); break;
                case "--soak": soak = Count(0); break;
                case "--threads": threads = Count(1); break;
                case "--json": json = Path.GetFullPath(Value()); break;
                default: throw new UsageException($"unknown option '{args[i]}'.");
            }
        }
        if (models.Count == 0) throw new UsageException("--model is required.");
        foreach (var model in models)
            if (!File.Exists(model)) throw new UsageException($"the model file '{model}' does not exist.");
        if (images is null) throw new UsageException("--images is required.");
        if (!Directory.Exists(images)) throw new UsageException($"the image folder '{images}' does not exist.");
        return new ServingArgs(models, images, limit, coldRuns, soak, threads, json);
    }
}
