using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>
/// What one benchmark run found: figures (a number and its unit, with optional details), targets met or missed, and
/// notes. Everything is printed as it is added and can be written as JSON at the end.
/// </summary>
internal sealed class BenchReport
{
    private const int NameWidth = 52;
    private readonly JsonObject _settings = new();
    private readonly JsonObject _environment = new();
    private readonly JsonArray _figures = new();
    private readonly JsonArray _targets = new();
    private readonly JsonArray _notes = new();
    private readonly DateTime _started = DateTime.UtcNow;

    public BenchReport(string command)
    {
        Command = command;
        Environment("machine", System.Environment.MachineName);
        Environment("os", RuntimeInformation.OSDescription);
        Environment("dotnet", RuntimeInformation.FrameworkDescription);
        Environment("processorCount", System.Environment.ProcessorCount);
    }

    public string Command { get; }

    public void Environment(string name, JsonNode? value)
    {
        _environment[name] = value;
        Console.WriteLine($"# {name}: {value?.ToJsonString().Trim('"')}");
    }

    public void Setting(string name, JsonNode? value) => _settings[name] = value;

    /// <summary>Prints the settings gathered so far as one line.</summary>
    public void PrintSettings() =>
        Console.WriteLine("# settings: " + string.Join(", ", _settings.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString().Trim('"')}")));

    public void Section(string title) => Console.WriteLine($"\n== {title} ==");

    /// <summary>Records and prints one figure.</summary>
    public void Figure(string name, double value, string unit, JsonObject? details = null, string? comment = null)
    {
        var figure = new JsonObject { ["name"] = name, ["value"] = Round(value), ["unit"] = unit };
        if (details is not null) figure["details"] = details;
        _figures.Add(figure);
        Console.WriteLine($"{(name + " ").PadRight(NameWidth, '.')} {Format(value)} {unit}{(comment is null ? "" : "  (" + comment + ")")}");
    }

    /// <summary>Records a timing as its median (the figure) with min/p95/samples as details.</summary>
    public void Time(string name, Timing timing, JsonObject? details = null)
    {
        details ??= new JsonObject();
        details["minMs"] = Round(timing.MinMs);
        details["p95Ms"] = Round(timing.P95Ms);
        details["meanMs"] = Round(timing.MeanMs);
        details["runs"] = timing.SamplesMs.Count;
        Figure(name, timing.MedianMs, "ms", details, $"min {Format(timing.MinMs)}, p95 {Format(timing.P95Ms)}, {timing.SamplesMs.Count} runs");
    }

    /// <summary>Records and prints whether a target was met.</summary>
    public void Target(string name, bool met, string detail)
    {
        _targets.Add(new JsonObject { ["name"] = name, ["met"] = met, ["detail"] = detail });
        Console.WriteLine($"TARGET {(met ? "MET    " : "NOT MET")} {name}: {detail}");
    }

    public void Note(string text)
    {
        _notes.Add(text);
        Console.WriteLine($"note: {text}");
    }

    /// <summary>Writes the report as JSON (beside, then moved into place so a reader never sees half a file).</summary>
    public void Save(string path)
    {
        var root = new JsonObject
        {
            ["command"] = Command,
            ["startedUtc"] = _started.ToString("O", CultureInfo.InvariantCulture),
            ["seconds"] = Round((DateTime.UtcNow - _started).TotalSeconds),
            ["environment"] = _environment.DeepClone(),
            ["settings"] = _settings.DeepClone(),
            ["figures"] = _figures.DeepClone(),
            ["targets"] = _targets.DeepClone(),
            ["notes"] = _notes.DeepClone(),
        };
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = $"{full}.{System.Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        File.Move(temporary, full, overwrite: true);
        Console.WriteLine($"# JSON written to {full}");
    }

    /// <summary>A number for JSON: rounded, and null when not finite (JSON has no NaN).</summary>
    public static JsonNode? Round(double value) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, 4)) : null;

    public static string Format(double value) =>
        !double.IsFinite(value) ? value.ToString(CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 100 ? value.ToString("N0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 1 ? value.ToString("F2", CultureInfo.InvariantCulture)
        : value.ToString("G3", CultureInfo.InvariantCulture);
}
