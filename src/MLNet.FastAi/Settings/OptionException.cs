namespace MLNet.FastAi.Settings;

/// <summary>
/// A setting refused: out of range, at odds with another, or more than memory or the disk can hold. Thrown before any
/// work that the refusal would waste. <see cref="Option"/> says which setting (compare it rather than the words);
/// the message names it as the way in that was used does (<c>ImageDataOptions.BatchSize</c>,
/// <c>FastAiCnnOptions.BatchSize</c>, <c>--batch-size</c>).
/// </summary>
public sealed class OptionException : ArgumentException
{
    private readonly FormattableString _text;
    private readonly OptionDoor _door;

    internal OptionException(OptionKey option, object? value, FormattableString text, object? fits = null, Exception? inner = null)
        : base(null, option.Name, inner)
    {
        Option = option;
        Value = value;
        Fits = fits;
        _text = text;
        _door = OptionText.Door;
    }

    /// <summary>The setting refused.</summary>
    public OptionKey Option { get; }

    /// <summary>The value refused.</summary>
    public object? Value { get; }

    /// <summary>A value that would be accepted, where one can be named (the largest batch that fits, ...); else null.</summary>
    public object? Fits { get; }

    /// <summary>Why, naming settings as the way in that was used names them (no " (Parameter ...)" suffix).</summary>
    public override string Message => OptionText.Render(_text, _door);

    /// <summary>The same message in another door's words.</summary>
    internal string MessageFor(OptionDoor door) => OptionText.Render(_text, door);
}
