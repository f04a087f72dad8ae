using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace MLNet.FastAi.Cli.Infrastructure;

/// <summary>The standard help followed by the exit codes, on every command's help page (and only there, not in the command list).</summary>
internal sealed class HelpWithExitCodes : SynchronousCommandLineAction
{
    private readonly HelpAction _help = new();

    /// <summary>Like the standard help: <c>train --help</c> shows help even though &lt;data&gt; is missing.</summary>
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        int code = _help.Invoke(parseResult);
        var output = parseResult.InvocationConfiguration.Output;
        output.WriteLine(ExitCodes.HelpText);
        output.WriteLine();
        return code;
    }
}
