namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>The exit codes scripts can rely on; every command documents them in its help.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>The command line was wrong: an unknown command or option, a missing argument, a bad or conflicting value.</summary>
    public const int Usage = 1;

    /// <summary>An input was wrong: a missing file or folder, unreadable images, a damaged model, a label the model does not know.</summary>
    public const int Input = 2;

    /// <summary>Something failed while running: training diverged, no CUDA device, an error in the native runtime.</summary>
    public const int Failure = 3;

    /// <summary>The text every command's help ends with.</summary>
    public const string HelpText =
        "Exit codes: 0 success, 1 usage error (unknown option, bad value), 2 input error (missing file or folder, bad data), " +
        "3 runtime or training failure.";
}
