using System.Globalization;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>
/// The command line: a subcommand, then <c>--name value</c> options and <c>--flag</c> switches. Unknown options are
/// errors, so that a mistyped setting never silently measures the default.
/// </summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string?> _options;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    private BenchArgs(string command, Dictionary<string, string?> options)
    {
        Command = command;
        _options = options;
    }

    public string Command { get; }

    /// <exception cref="UsageException">An argument is not of the form --name [value].</exception>
    public static BenchArgs Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0].StartsWith("-", StringComparison.Ordinal))
            throw new UsageException("Give a subcommand first.");
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 1; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new UsageException($"Unexpected argument '{arg}': options are written --name value.");
            string name = arg[2..];
            string? value = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            if (!options.TryAdd(name, value)) throw new UsageException($"Option --{name} is given twice.");
        }
        return new BenchArgs(args[0], options);
    }

    public string? Text(string name)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var value)) return null;
        return value ?? throw new UsageException($"Option --{name} needs a value.");
    }

    public string Required(string name) => Text(name) ?? throw new UsageException($"Option --{name} is required for '{Command}'.");

    public int Int(string name, int fallback, int min = 1)
    {
        string? text = Text(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min)
            throw new UsageException($"Option --{name} must be an integer of at least {min}; got '{text}'.");
        return value;
    }

    public double Double(string name, double fallback)
    {
        string? text = Text(name);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value > 0))
            throw new UsageException($"Option --{name} must be a positive number; got '{text}'.");
        return value;
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        if (!_options.TryGetValue(name, out var value)) return false;
        if (value is not null) throw new UsageException($"Option --{name} is a switch and takes no value (got '{value}').");
        return true;
    }

    /// <summary>Call after reading every option: anything left was not understood.</summary>
    public void RejectUnknown()
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"Unknown option(s) for '{Command}': {string.Join(", ", unknown.Select(u => "--" + u))}.");
    }
}

/// <summary>A command line the program cannot act on; the message says what is wrong.</summary>
internal sealed class UsageException(string message) : Exception(message);
