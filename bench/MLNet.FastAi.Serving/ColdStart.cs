using System.Diagnostics;
using System.Text.Json;

namespace MLNet.FastAi.Serving;

/// <summary>Seconds from the kernel's start of a process to each step of its first prediction.</summary>
internal sealed record ColdTimings(double Main, double Loaded, double EngineReady, double FirstPrediction, double LoadSeconds);

/// <summary>Process start to first prediction, each in a fresh process: nothing JIT-compiled, loaded or cached yet.</summary>
internal static class ColdStart
{
    /// <summary>Child: load <c>args[1]</c>, predict <c>args[2]</c>, print the timings as one JSON line.</summary>
    public static int RunChild(string[] args)
    {
        double main = SinceProcessStart();
        var clock = Stopwatch.StartNew();
        var model = ServedModel.Load(args[1]);
        double loadSeconds = clock.Elapsed.TotalSeconds;
        double loaded = SinceProcessStart();
        using var engine = model.NewEngine(args[2]);
        double ready = SinceProcessStart();
        string label = engine.Predict(new ImageRow { ImagePath = args[2] }).PredictedLabel;
        double first = SinceProcessStart();
        if (label.Length == 0) throw new InvalidDataException($"The model '{args[1]}' predicted no label for '{args[2]}'.");
        Console.WriteLine(JsonSerializer.Serialize(new ColdTimings(main, loaded, ready, first, loadSeconds)));
        return 0;
    }

    /// <summary>Runs <paramref name="runs"/> children per model, alternating the models so drift hits all alike.</summary>
    public static Dictionary<string, List<ColdTimings>> Measure(IReadOnlyList<string> models, string image, int runs)
    {
        var timings = models.ToDictionary(m => m, _ => new List<ColdTimings>());
        for (int run = 0; run < runs; run++)
            foreach (var model in models)
                timings[model].Add(Child(model, image));
        return timings;
    }

    private static ColdTimings Child(string model, string image)
    {
        string host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Run as `dotnet app.dll` when started that way, or through the apphost otherwise: the same way as the parent.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(ColdStart).Assembly.Location);
        foreach (var arg in new[] { "--first-prediction", model, image }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd(), errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The cold-start run of '{model}' failed (exit {process.ExitCode}): {errors}{output}");
        return JsonSerializer.Deserialize<ColdTimings>(output.Trim().Split('\n')[^1])!;
    }

    private static double SinceProcessStart()
    {
        using var self = Process.GetCurrentProcess();
        return (DateTime.Now - self.StartTime).TotalSeconds;
    }
}
