using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace MLNet.FastAi.Settings;

/// <summary>
/// Renders messages that name settings in the words of the door the engine was entered by, the way a UI culture
/// renders text: a door says which it is around its calls (<see cref="Speak"/>), and the engine writes its messages as
/// interpolated strings whose <see cref="OptionKey"/> holes become that door's names. Work the engine starts on other
/// threads inherits the door with the execution context.
/// </summary>
internal static partial class OptionText
{
    private static readonly AsyncLocal<OptionDoor?> CurrentDoor = new();

    /// <summary>The door in use; the fastai API when none said otherwise.</summary>
    public static OptionDoor Door => CurrentDoor.Value ?? OptionDoor.FastAi;

    /// <summary>Messages name settings as <paramref name="door"/> does until the result is disposed.</summary>
    public static IDisposable Speak(OptionDoor door)
    {
        var previous = CurrentDoor.Value;
        CurrentDoor.Value = door;
        return new Restore(previous);
    }

    /// <summary><paramref name="text"/> in the words of the door in use.</summary>
    public static string Say(FormattableString text) => Render(text, Door);

    /// <summary><paramref name="text"/> in the words of <paramref name="door"/>; other values formatted invariantly.</summary>
    public static string Render(FormattableString text, OptionDoor door) => text.ToString(new DoorFormat(door));

    /// <summary>One message from interpolated pieces (a long message is written as several lines, which C# would join into a plain string).</summary>
    public static FormattableString Concat(params FormattableString[] parts)
    {
        var format = new System.Text.StringBuilder();
        var arguments = new List<object?>();
        foreach (var part in parts)
        {
            int offset = arguments.Count;
            format.Append(Hole().Replace(part.Format, m => m.Groups[1].Success ? $"{{{int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + offset}{m.Groups[2].Value}}}" : m.Value));
            arguments.AddRange(part.GetArguments());
        }
        return FormattableStringFactory.Create(format.ToString(), arguments.ToArray());
    }

    [GeneratedRegex(@"\{\{|\}\}|\{(\d+)([^}]*)\}")]
    private static partial Regex Hole();

    private sealed class Restore(OptionDoor? previous) : IDisposable
    {
        public void Dispose() => CurrentDoor.Value = previous;
    }

    private sealed class DoorFormat(OptionDoor door) : IFormatProvider, ICustomFormatter
    {
        public object? GetFormat(Type? formatType) => formatType == typeof(ICustomFormatter) ? this : CultureInfo.InvariantCulture.GetFormat(formatType);

        public string Format(string? format, object? arg, IFormatProvider? formatProvider) => arg switch
        {
            OptionKey key => key.NameFor(door),
            OptionSetting setting => setting.For(door),
            FormattableString nested => Render(nested, door),
            IFormattable formattable => formattable.ToString(format, CultureInfo.InvariantCulture),
            _ => arg?.ToString() ?? "",
        };
    }
}
