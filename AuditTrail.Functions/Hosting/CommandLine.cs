using AuditTrail.Functions.Access;
using AuditTrail.Functions.Demo;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Retention;

namespace AuditTrail.Functions.Hosting;

/// <summary>The app's administrative commands, run with the app's own configuration and services.</summary>
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

    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "tokens" or "retention" or "forwarding" or "seed-demo" or "integrity";

    /// <summary>Asking for help, in any of the usual spellings: the server is not started.</summary>
    public static bool IsHelp(string[] args) => args.Length > 0 && IsHelpWord(args[0]);

    /// <summary>
    /// <c>&lt;command&gt; --help</c> (in any spelling): that command's usage, answered here for every
    /// command alike, before any storage is reached; otherwise null.
    /// </summary>
    public static string? CommandHelp(string[] args) =>
        args.Length == 2 && IsCommand(args) && IsHelpWord(args[1])
            ? args[0] switch
            {
                "tokens" => TokensCommand.Usage,
                "forwarding" => ForwardingCommand.Usage,
                "seed-demo" => SeedDemoCommand.Usage,
                "integrity" => IntegrityCommand.Usage,
                _ => RetentionCommand.Usage,
            }
            : null;

    private static bool IsHelpWord(string arg) => arg is "--help" or "-h" or "-?" or "/?" or "help";

    /// <summary>
    /// A first argument that is neither a command nor a setting (<c>--key=value</c>, <c>--key value</c>,
    /// <c>/key=value</c>, <c>key=value</c>): probably a mistyped command, so the server is not started.
    /// </summary>
    public static string? UnknownCommand(string[] args) =>
        args.Length > 0 && !IsCommand(args) && !IsHelp(args) && !args[0].StartsWith('-') && !args[0].StartsWith('/') && !args[0].Contains('=', StringComparison.Ordinal)
            ? args[0]
            : null;

    /// <summary>Exit code of a command that failed for a reason other than its arguments (storage, an alarm).</summary>
    public const int Failed = 1;

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            return await (args[0] switch
            {
                "tokens" => TokensCommand.RunAsync(services, args, output, error, cancellationToken),
                "forwarding" => ForwardingCommand.RunAsync(services, args, output, error, cancellationToken),
                "seed-demo" => SeedDemoCommand.RunAsync(services, args, output, error, cancellationToken),
                "integrity" => IntegrityCommand.RunAsync(services, args, output, error, cancellationToken),
                _ => RetentionCommand.RunAsync(services, args, output, error, cancellationToken),
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // An operator's command ends with a line saying what failed, never a runtime abort (exit 134)
            // that hides whether the action happened.
            await error.WriteLineAsync($"error: {args[0]} failed: {OneLine(ex)}");
            return Failed;
        }
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
}
