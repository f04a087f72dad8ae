namespace MLNet.FastAi.Settings;

/// <summary>
/// One setting of a training run, as every way in names it: the fastai-style API, the ML.NET trainer's options and
/// the command line. An <see cref="OptionException"/> carries the key of the setting it refuses; compare keys, not
/// message words.
/// </summary>
public sealed partial class OptionKey
{
    private readonly string _fastAi;
    private readonly string? _estimator;
    private readonly string? _flag;
    private readonly string _words;
    private readonly Func<object, string?>? _flagSetting;

    private OptionKey(string name, string fastAi, string? estimator, string? flag, string words, Func<object, string?>? flagSetting = null)
    {
        Name = name;
        _fastAi = fastAi;
        _estimator = estimator;
        _flag = flag;
        _words = words;
        _flagSetting = flagSetting;
    }

    /// <summary>The setting's name, e.g. <c>ItemSize</c>.</summary>
    public string Name { get; }

    /// <summary>The flag that sets it on the command line; null when the tool has none.</summary>
    internal string? Flag => _flag;

    /// <summary>The setting as <paramref name="door"/> names it (a phrase where that door does not expose it).</summary>
    internal string NameFor(OptionDoor door) => door switch
    {
        OptionDoor.Estimator => _estimator ?? _words,
        OptionDoor.CommandLine => _flag ?? _words,
        _ => _fastAi,
    };

    /// <summary>The advice to give this setting <paramref name="value"/>, rendered by the door in use.</summary>
    internal OptionSetting Set(object value) => new(this, value);

    /// <summary>How <paramref name="door"/>'s user gives this setting <paramref name="value"/>.</summary>
    internal string SettingFor(OptionDoor door, object value)
    {
        if (door == OptionDoor.CommandLine)
            return _flagSetting?.Invoke(value) is { } custom ? custom
                : _flag is null ? $"set {_words} to {Plain(value)}"
                : $"pass {_flag} {Plain(value)}";
        string name = NameFor(door);
        return value is Enum e ? $"set {name} = {e.GetType().Name}.{e}" : $"set {name} = {value}";
    }

    /// <summary>The setting as the door in use names it.</summary>
    public override string ToString() => NameFor(OptionText.Door);

    private static string Plain(object value) => value is Enum ? value.ToString()!.ToLowerInvariant() : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;
}

/// <summary>Advice to give a setting a value, rendered by the door in use ("set FastAiCnnOptions.Cache = ImageCacheMode.Disk", "pass --cache disk").</summary>
internal readonly record struct OptionSetting(OptionKey Key, object Value)
{
    public string For(OptionDoor door) => Key.SettingFor(door, Value);

    public override string ToString() => For(OptionText.Door);
}
