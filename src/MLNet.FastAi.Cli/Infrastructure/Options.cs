using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>
/// Builders for options whose values are checked while parsing, so a bad value is a usage error (exit code 1) whose
/// message names the option, e.g. "--epochs must be at least 1; got -1."
/// </summary>
internal static class Options
{
    /// <summary>A text option; null when not given unless <paramref name="defaultValue"/> is set.</summary>
    public static Option<string?> Text(string name, string description, string? defaultValue = null, string? helpName = null)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = helpName };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && string.IsNullOrWhiteSpace(result.GetValueOrDefault<string?>()))
                result.AddError($"{name} needs a non-empty value.");
        });
        return option;
    }

    /// <summary>An on/off switch.</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>One of a fixed set of lower-case words, matched case-insensitively.</summary>
    public static Option<string?> Choice(string name, string description, string? defaultValue, params string[] values)
    {
        var option = new Option<string?>(name)
        {
            Description = description,
            HelpName = string.Join('|', values),
            CustomParser = result => result.Tokens.Count == 0 ? defaultValue : result.Tokens[0].Value.Trim().ToLowerInvariant(),
        };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string?>();
            if (value is not null && !values.Contains(value))
                result.AddError($"{name}: '{value}' is not one of {string.Join(", ", values)}.");
        });
        return option;
    }

    /// <summary>A whole number within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max = int.MaxValue) =>
        new(name)
        {
            Description = description,
            HelpName = "n",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseInt(result, name, min, max) ?? defaultValue,
        };

    /// <summary>An optional whole number within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int?> OptionalInt(string name, string description, int min, int max = int.MaxValue) =>
        new(name) { Description = description, HelpName = "n", CustomParser = result => ParseInt(result, name, min, max) };

    /// <summary>A positive, finite number (a learning rate).</summary>
    public static Option<double?> PositiveNumber(string name, string description, double? defaultValue = null)
    {
        var option = new Option<double?>(name)
        {
            Description = description,
            CustomParser = result => ParseDouble(result, name, v => v > 0 && double.IsFinite(v), "a positive number"),
        };
        if (defaultValue is { } d) option.DefaultValueFactory = _ => d;
        return option;
    }

    /// <summary>A fraction strictly between 0 and 1.</summary>
    public static Option<double?> Fraction(string name, string description) =>
        new(name)
        {
            Description = description,
            HelpName = "fraction",
            CustomParser = result => ParseDouble(result, name, v => v > 0 && v < 1, "between 0 and 1 (exclusive)"),
        };

    /// <summary>The decode gate's pixel limit, shared by every command that reads images.</summary>
    public static Option<int?> MaxImagePixels() =>
        OptionalInt("--max-image-pixels", "Refuse, before decoding, an image whose header claims more pixels than this (decompression bombs) " +
                                          $"[default: {MLNet.FastAi.Data.ImageDataOptions.DefaultMaxImagePixels:N0}].", 1);

    /// <summary>
    /// A whole number for a setting of the training run, named by its key's flag. Only the type is checked here; the
    /// run's settings are checked in one place (the recipe), before any input is read.
    /// </summary>
    public static Option<int?> Whole(OptionKey key, string description) =>
        new(key.Flag!) { Description = description, HelpName = "n", CustomParser = result => ParseInt(result, key.Flag!, int.MinValue, int.MaxValue) };

    /// <summary>A number for a setting of the training run, named by its key's flag; only the type is checked here.</summary>
    public static Option<double?> Number(OptionKey key, string description) =>
        new(key.Flag!) { Description = description, CustomParser = result => ParseDouble(result, key.Flag!, _ => true, "a number") };

    /// <summary>An on/off switch for a setting of the training run, named by its key's flag.</summary>
    public static Option<bool> Flag(OptionKey key, string description) => Flag(key.Flag!, description);

    /// <summary>True when the user typed the option (rather than it taking its default).</summary>
    public static bool WasGiven(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static int? ParseInt(ArgumentResult result, string name, int min, int max)
    {
        if (result.Tokens.Count == 0) return null;
        string token = result.Tokens[0].Value;
        if (!int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            result.AddError($"{name} must be a whole number; got '{token}'.");
        else if (value < min) result.AddError($"{name} must be at least {min}; got {value}.");
        else if (value > max) result.AddError($"{name} must be at most {max}; got {value}.");
        else return value;
        return null;
    }

    private static double? ParseDouble(ArgumentResult result, string name, Func<double, bool> isValid, string rule)
    {
        if (result.Tokens.Count == 0) return null;
        string token = result.Tokens[0].Value;
        if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            result.AddError($"{name} must be a number; got '{token}'.");
        else if (!isValid(value)) result.AddError($"{name} must be {rule}; got {Format(value)}.");
        else return value;
        return null;
    }

    private static string Format(double value) => value.ToString("g", CultureInfo.InvariantCulture);
}
