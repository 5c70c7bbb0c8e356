using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Forwarding;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// <c>forwarding replay-poison [--max N]</c>: puts messages that exhausted their tries back on <c>audit-forward</c>.
/// <c>forwarding resend-dead-letters --workspace ID</c>: queues one workspace's refused forwards again once its setting is fixed.
/// </summary>
public static class ForwardingCommand
{
    public const string Usage = """
        usage:
          forwarding replay-poison [--max N]                 move up to N (default all, at most 100000) messages from audit-forward-poison back to audit-forward
          forwarding resend-dead-letters --workspace <id>    queue that workspace's dead-lettered forwards (refused with a 4xx or 3xx, or an internal address) again, with their original messageIds; fix the key or endpoint first
        """;

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.ElementAtOrDefault(1) == "resend-dead-letters")
        {
            if (args.Length != 4 || args[2] != "--workspace" || !WorkspaceIds.IsValid(args[3]))
            {
                await error.WriteLineAsync("error: resend-dead-letters needs --workspace <a workspace id>.\n" + Usage);
                return 2;
            }
            return await ResendAsync(services, args[3], output, error, cancellationToken);
        }
        var max = 100_000;
        var valid = args.ElementAtOrDefault(1) == "replay-poison" && (args.Length == 2
            || (args.Length == 4 && args[2] == "--max" && int.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out max) && max > 0));
        if (!valid)
        {
            await error.WriteLineAsync("error: unknown forwarding command or option.\n" + Usage);
            return 2;
        }
        var outbox = services.GetRequiredService<ForwardingOutbox>();
        var progress = new Progress<int>(n =>
        {
            if (n % 100 == 0)
            {
                output.WriteLine($"  {n} messages moved...");
            }
        });
        var moved = await outbox.ReplayPoisonAsync(max, progress, cancellationToken);
        await output.WriteLineAsync($"Moved {moved} messages from {ForwardingOutbox.PoisonQueueName} to {ForwardingOutbox.QueueName}; the forwarder will send them with fresh tries.");
        return 0;
    }

    /// <summary>Every dead-lettered forward of the workspace, page by page; each page is recorded in its trail with the system as actor.</summary>
    private static async Task<int> ResendAsync(IServiceProvider services, string workspaceId, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var deadLetters = services.GetRequiredService<ForwardingDeadLetters>();
        int messages = 0, events = 0;
        ForwardingResendResult page;
        try
        {
            do
            {
                page = await deadLetters.ResendAsync(workspaceId, new SettingsActor("system", "forwarding-admin"), cancellationToken);
                messages += page.Messages;
                events += page.Events;
            }
            while (page.More && page.Messages > 0);
        }
        catch (ForwardingSettingsException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        await output.WriteLineAsync($"Queued {messages} dead-lettered forward messages ({events} events) of {workspaceId} on {ForwardingOutbox.QueueName} again; the forwarder will send them with their original messageIds.");
        return 0;
    }
}
