using System.CommandLine;
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

    /// <summary>What one <c>replay-poison</c> moves at the most.</summary>
    private const int MaxReplayed = 100_000;

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        Hosting.CommandLine.InvokeAsync(Create(services), args, output, error, cancellationToken);

    internal static Command Create(IServiceProvider services)
    {
        var max = Hosting.CommandOptions.PositiveWhole("--max", "--max must be a whole number, 1 or more.");
        var replay = new Command("replay-poison", "move poison messages back to the forwarding queue") { max };
        replay.SetAction((parsed, ct) => ReplayAsync(services, parsed.GetValue(max) ?? MaxReplayed, parsed.InvocationConfiguration.Output, ct));
        var workspace = Hosting.CommandOptions.Workspace(required: true);
        var resend = new Command("resend-dead-letters", "queue a workspace's dead-lettered forwards again") { workspace };
        resend.SetAction((parsed, ct) => ResendAsync(services, parsed.GetRequiredValue(workspace), parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error, ct));
        return new Command("forwarding", "replay and resend forwarded events") { replay, resend };
    }

    private static async Task<int> ReplayAsync(IServiceProvider services, int max, TextWriter output, CancellationToken cancellationToken)
    {
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
