namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>Where a command writes: results to <see cref="Out"/>, diagnostics to <see cref="Error"/>. Nothing writes to <see cref="Console"/> directly, so tests can capture everything.</summary>
internal sealed record CliConsole(TextWriter Out, TextWriter Error)
{
    /// <summary>Writes a line of results.</summary>
    public void WriteLine(string text = "") => Out.WriteLine(text);

    /// <summary>Writes a warning line to the error stream.</summary>
    public void Warn(string text) => Error.WriteLine($"warning: {text}");
}
