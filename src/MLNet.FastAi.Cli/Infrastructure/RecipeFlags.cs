using System.CommandLine;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>
/// Flags that each set one setting of a training run's options (<typeparamref name="T"/>: the data or the learner
/// options), declared with what they set, so that exposing a setting is one line: its flag comes from the setting's
/// <see cref="OptionKey"/>, its check from the recipe.
/// </summary>
internal sealed class RecipeFlags<T>
{
    private readonly List<(Option Option, Func<T, ParseResult, T> Apply)> _flags = new();

    /// <summary>An on/off flag: <paramref name="apply"/> sets the setting when it is given.</summary>
    public void Switch(OptionKey key, string description, Func<T, bool, T> apply)
    {
        var option = Options.Flag(key, description);
        _flags.Add((option, (options, parse) => parse.WasGiven(option) ? apply(options, parse.GetValue(option)) : options));
    }

    /// <summary>A number: <paramref name="apply"/> sets the setting when it is given.</summary>
    public void Number(OptionKey key, string description, Func<T, double, T> apply)
    {
        var option = Options.Number(key, description);
        _flags.Add((option, (options, parse) => parse.GetValue(option) is { } value ? apply(options, value) : options));
    }

    /// <summary>
    /// A flag with an optional number (<c>--mixup</c> or <c>--mixup 0.2</c>): <paramref name="apply"/> sets the
    /// setting to the number, or to <paramref name="bare"/> when none follows.
    /// </summary>
    public void OptionalNumber(OptionKey key, string description, double bare, Func<T, double, T> apply)
    {
        var option = Options.Number(key, description);
        option.Arity = ArgumentArity.ZeroOrOne;
        _flags.Add((option, (options, parse) => parse.WasGiven(option) ? apply(options, parse.GetValue(option) ?? bare) : options));
    }

    public void AddTo(Command command)
    {
        foreach (var (option, _) in _flags) command.Add(option);
    }

    /// <summary><paramref name="options"/> with every given flag applied.</summary>
    public T Apply(T options, ParseResult parse) => _flags.Aggregate(options, (current, flag) => flag.Apply(current, parse));
}
