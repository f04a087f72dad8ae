using System.CommandLine;
using System.Reflection;
using MLNet.FastAi.Data;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>
/// Runs a command's action and turns what it throws into a one-line message and an exit code: expected errors never
/// show a stack trace unless <c>--verbose</c> is given.
/// </summary>
internal sealed class CommandRunner(CliConsole console, Option<bool> verbose)
{
    /// <summary>The output of the current invocation.</summary>
    public CliConsole Console => console;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="run"/>, guarded.</summary>
    public void SetAction(Command command, Func<ParseResult, int> run) =>
        command.SetAction(parse => Guard(parse, run));

    private int Guard(ParseResult parse, Func<ParseResult, int> run)
    {
        // The engine's messages name settings by this tool's flags.
        using var door = OptionText.Speak(OptionDoor.CommandLine);
        try
        {
            return run(parse);
        }
        catch (Exception thrown)
        {
            var e = Unwrap(thrown);
            int code = ExitCodeOf(e);
            console.Error.WriteLine($"error: {e.Message}");
            if (parse.GetValue(verbose))
                console.Error.WriteLine(thrown.ToString());
            else if (code == ExitCodes.Failure)
                console.Error.WriteLine("(Run again with --verbose for the full stack trace.)");
            return code;
        }
        finally
        {
            console.Out.Flush();
        }
    }

    /// <summary>The exception that says what went wrong, rather than the wrapper around it.</summary>
    private static Exception Unwrap(Exception e)
    {
        while (e is TargetInvocationException or TypeInitializationException or AggregateException { InnerExceptions.Count: 1 }
               && e.InnerException is not null)
            e = e.InnerException;
        return e;
    }

    /// <summary>
    /// Exit code for an exception: the CLI's own errors say theirs; a setting refused (out of range, at odds with
    /// another, more than memory can hold) and a disk cache folder that cannot hold the images are options to change; missing or
    /// malformed inputs, and other arguments the package refused (data that does not fit, such as a split leaving no
    /// validation images), are input errors; anything else failed while running.
    /// </summary>
    internal static int ExitCodeOf(Exception e) => e switch
    {
        CliException cli => cli.ExitCode,
        OptionException or ArgumentOutOfRangeException or ImageCacheUnavailableException => ExitCodes.Usage,
        FileNotFoundException or DirectoryNotFoundException or InvalidDataException or UnauthorizedAccessException or PathTooLongException
            or ArgumentException => ExitCodes.Input,
        _ => ExitCodes.Failure,
    };
}
