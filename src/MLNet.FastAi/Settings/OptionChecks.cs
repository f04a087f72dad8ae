namespace MLNet.FastAi.Settings;

/// <summary>The range checks of settings, each refusal worded once: "{setting} must be at least 1; got 0."</summary>
internal static class OptionChecks
{
    public static void Refuse(bool ok, OptionKey key, object? value, FormattableString why)
    {
        if (!ok) throw new OptionException(key, value, why);
    }

    public static void AtLeast(OptionKey key, long? value, long minimum) =>
        Refuse(value is null || value >= minimum, key, value, $"{key} must be at least {minimum}; got {value}.");

    public static void Between(OptionKey key, long? value, long minimum, long maximum, string unit = "") =>
        Refuse(value is null || (value >= minimum && value <= maximum), key, value, $"{key} must be between {minimum} and {maximum}{unit}; got {value}.");

    public static void PositiveFinite(OptionKey key, double? value) =>
        Refuse(value is null || (value > 0 && double.IsFinite(value.Value)), key, value, $"{key} must be positive and finite; got {value}.");

    public static void NonNegativeFinite(OptionKey key, double? value) =>
        Refuse(value is null || (value >= 0 && double.IsFinite(value.Value)), key, value, $"{key} must be zero or positive, and finite; got {value}.");

    /// <summary>In [0, 1): dropout, label smoothing, a held-out share.</summary>
    public static void HalfOpenFraction(OptionKey key, double value) =>
        Refuse(value is >= 0 and < 1, key, value, $"{key} must be in [0, 1); got {value}.");

    public static void Momentums(OptionKey key, (double Start, double Middle, double End) m) =>
        Refuse(new[] { m.Start, m.Middle, m.End }.All(v => v is >= 0 and < 1), key, m, $"{key} must each be in [0, 1); got {m}.");

    public static void NamesSomething(OptionKey key, string? value, string what) =>
        Refuse(value is null || !string.IsNullOrWhiteSpace(value), key, value, $"{key} must name {what} (or be left unset); got '{value}'.");
}
