namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>An expected failure: its message is printed as is (no stack trace) and the tool exits with <see cref="ExitCode"/>.</summary>
internal sealed class CliException : Exception
{
    private CliException(int exitCode, string message, Exception? inner) : base(message, inner) => ExitCode = exitCode;

    /// <summary>One of <see cref="ExitCodes"/>.</summary>
    public int ExitCode { get; }

    /// <summary>A wrong command line: a value out of range or options that do not go together (exit code 1).</summary>
    public static CliException Usage(string message) => new(ExitCodes.Usage, message, null);

    /// <summary>A missing or unusable input file, folder or value in the data (exit code 2).</summary>
    public static CliException Input(string message, Exception? inner = null) => new(ExitCodes.Input, message, inner);

    /// <summary>A failure while running (exit code 3).</summary>
    public static CliException Failure(string message, Exception? inner = null) => new(ExitCodes.Failure, message, inner);
}
