using System.Globalization;
using AuditTrail.Core.Forwarding;

namespace AuditTrail.Functions.Forwarding;

/// <summary><c>forwarding replay-poison [--max N]</c>: puts messages that exhausted their tries back on <c>audit-forward</c>.</summary>
public static class ForwardingCommand
{
    public const string Usage = """
        usage:
          forwarding replay-poison [--max N]    move up to N (default all, at most 100000) messages from audit-forward-poison back to audit-forward
        """;

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
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
}
