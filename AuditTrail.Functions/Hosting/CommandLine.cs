using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Demo;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Retention;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// The app's administrative commands, run with the app's own configuration and services. Each command
/// declares its grammar with System.CommandLine; help, parse errors and exit codes are answered here
/// for every command alike.
/// </summary>
public static class CommandLine
{
    public static readonly string Usage = $"""
        Audit Trail: the Azure Functions custom handler, or a standalone server for local runs.

        usage:
          AuditTrail.Functions [--<setting>=<value> ...]   start the server (under the Functions host, or standalone)
          AuditTrail.Functions <command> ...               run one administrative command against the trail's storage and exit
          AuditTrail.Functions --help                      print this and exit

        commands:
        {Indent(TokensCommand.Usage)}
        {Indent(RetentionCommand.Usage)}
        {Indent(ForwardingCommand.Usage)}
        {Indent(SeedDemoCommand.Usage)}
        {Indent(IntegrityCommand.Usage)}

        Settings come from the environment (AuditStorage, AuditTrail__Url, ...) or --AuditTrail:Url=... ;
        local.settings.sample.json lists them with their defaults. A setting the app cannot use stops it
        at start with one line naming it (exit code 1).
        """;

    /// <summary>Each command by its name: its usage (what its help prints and what follows its parse errors) and its grammar and action.</summary>
    private static readonly Dictionary<string, (string Usage, Func<IServiceProvider, Command> Create)> Commands = new(StringComparer.Ordinal)
    {
        ["tokens"] = (TokensCommand.Usage, TokensCommand.Create),
        ["retention"] = (RetentionCommand.Usage, RetentionCommand.Create),
        ["forwarding"] = (ForwardingCommand.Usage, ForwardingCommand.Create),
        ["seed-demo"] = (SeedDemoCommand.Usage, SeedDemoCommand.Create),
        ["integrity"] = (IntegrityCommand.Usage, IntegrityCommand.Create),
    };

    /// <summary>Help in any of the usual spellings, the bare word included (<c>retention help</c>).</summary>
    private static readonly string[] HelpWords = ["--help", "-h", "/h", "-?", "/?", "help"];

    /// <summary>Exit code of a command whose arguments are wrong.</summary>
    public const int BadArguments = 2;

    /// <summary>Exit code of a command that failed for a reason other than its arguments (storage, an alarm).</summary>
    public const int Failed = 1;

    public static bool IsCommand(string[] args) => args.Length > 0 && Commands.ContainsKey(args[0]);

    /// <summary>Asking for help, in any of the usual spellings: the server is not started.</summary>
    public static bool IsHelp(string[] args) => args.Length > 0 && HelpWords.Contains(args[0], StringComparer.Ordinal);

    /// <summary>
    /// <c>&lt;command&gt; --help</c> (in any spelling): that command's usage, answered before any storage
    /// is reached; otherwise null. <c>&lt;command&gt; &lt;subcommand&gt; --help</c> is answered the same
    /// way when the command runs (<see cref="InvokeAsync"/>).
    /// </summary>
    public static string? CommandHelp(string[] args) =>
        args.Length == 2 && IsCommand(args) && HelpWords.Contains(args[1], StringComparer.Ordinal) ? Commands[args[0]].Usage : null;

    /// <summary>
    /// A first argument that is neither a command nor a setting (<c>--key=value</c>, <c>--key value</c>,
    /// <c>/key=value</c>, <c>key=value</c>): probably a mistyped command, so the server is not started.
    /// </summary>
    public static string? UnknownCommand(string[] args) =>
        args.Length > 0 && !IsCommand(args) && !IsHelp(args) && !args[0].StartsWith('-') && !args[0].StartsWith('/') && !args[0].Contains('=', StringComparison.Ordinal)
            ? args[0]
            : null;

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var command = Commands[args[0]].Create(services);
            return await InvokeAsync(command, args, output, error, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // An operator's command ends with a line saying what failed, never a runtime abort (exit 134)
            // that hides whether the action happened.
            await error.WriteLineAsync($"error: {args[0]} failed: {OneLine(ex)}");
            return Failed;
        }
    }

    /// <summary>
    /// Parses <paramref name="args"/> (the command's name first) with <paramref name="command"/>'s grammar
    /// and runs its action. Help prints the command's usage (exit 0); a parse error prints an
    /// <c>error:</c> line for each problem and the usage (exit 2); a failure of the action itself is thrown to the caller.
    /// </summary>
    public static async Task<int> InvokeAsync(Command command, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(error);
        var usage = Commands[command.Name].Usage;
        var root = new RootCommand { command };
        root.Options.Clear();
        root.Options.Add(new HelpOption(HelpWords[0], HelpWords[1..]) { Action = new PrintUsage(usage) });
        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            foreach (var problem in parsed.Errors)
            {
                await error.WriteLineAsync("error: " + problem.Message);
            }
            await error.WriteLineAsync(usage);
            return BadArguments;
        }
        // No exception handler and no signal handling of System.CommandLine's own: failures are
        // RunAsync's one-line error, and the host process owns Ctrl+C.
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        return await parsed.InvokeAsync(invocation, cancellationToken);
    }

    /// <summary>An error line for a command's refusal after parsing (no usage: the arguments were well formed).</summary>
    internal static int Refuse(ParseResult parsed, string message)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        parsed.InvocationConfiguration.Error.WriteLine("error: " + message);
        return BadArguments;
    }

    /// <summary>The failure's own message, and its inner ones, on one line.</summary>
    internal static string OneLine(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            parts.Add(e.Message.ReplaceLineEndings(" "));
        }
        return string.Join(" <- ", parts.Distinct(StringComparer.Ordinal));
    }

    private static string Indent(string usage) =>
        string.Join("\n", usage.Split('\n').Where(l => !l.TrimStart().StartsWith("usage:", StringComparison.Ordinal) && l.Trim().Length > 0).Select(l => "  " + l.Trim()));

    /// <summary>Help answered with the command's own usage text, the one docs/operations.md shows.</summary>
    private sealed class PrintUsage(string usage) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(usage.Trim());
            return 0;
        }
    }
}
