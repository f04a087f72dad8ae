using System.CommandLine;
using System.Reflection;
using MLNet.FastAi.Data;

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
        try
        {
            return run(parse);
        }
        catch (Exception thrown)
        {
            var e = Unwrap(thrown);
            int code = ExitCodeOf(e);
            console.Error.WriteLine($"error: {MessageOf(e)}");
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

    /// <summary>
    /// The message without .NET's " (Parameter 'name')" suffix, which names a package parameter rather than an option,
    /// and with the package's option names (which the library's messages give) turned into this tool's.
    /// </summary>
    private static string MessageOf(Exception e)
    {
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return PackageOptionNames.AsCliOptions(message);
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
    /// Exit code for an exception: the CLI's own errors say theirs; a value out of range, and a configuration refused
    /// before any work because memory or the disk cache's folder cannot hold it, are options to change; missing or
    /// malformed inputs, and other arguments the package refused (data that does not fit, such as a split leaving no
    /// validation images), are input errors; anything else failed while running.
    /// </summary>
    internal static int ExitCodeOf(Exception e) => e switch
    {
        CliException cli => cli.ExitCode,
        ArgumentOutOfRangeException or InsufficientMemoryException or ImageCacheUnavailableException => ExitCodes.Usage,
        FileNotFoundException or DirectoryNotFoundException or InvalidDataException or UnauthorizedAccessException or PathTooLongException
            or ArgumentException => ExitCodes.Input,
        _ => ExitCodes.Failure,
    };
}
