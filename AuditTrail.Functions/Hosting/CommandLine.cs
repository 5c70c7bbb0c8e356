using AuditTrail.Functions.Access;
using AuditTrail.Functions.Retention;

namespace AuditTrail.Functions.Hosting;

/// <summary>The app's administrative commands, run with the app's own configuration and services.</summary>
public static class CommandLine
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "tokens" or "retention" or "forwarding";

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        args[0] switch
        {
            "tokens" => TokensCommand.RunAsync(services, args, output, error, cancellationToken),
            "forwarding" => Forwarding.ForwardingCommand.RunAsync(services, args, output, error, cancellationToken),
            _ => RetentionCommand.RunAsync(services, args, output, error, cancellationToken),
        };
}
