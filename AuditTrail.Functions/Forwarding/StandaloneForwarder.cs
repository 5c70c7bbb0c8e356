using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Hosting;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// Standalone mode's stand-in for the queue trigger: polls <c>audit-forward</c> and hands each
/// message to the same <see cref="EventForwarder"/>, with the host's rules: base64 message text,
/// a failed message comes back after <see cref="ForwardingOptions.RetryDelay"/>, and one that has
/// failed <see cref="ForwardingOptions.MaxDequeueCount"/> times is copied to
/// <c>audit-forward-poison</c> and deleted.
/// </summary>
public sealed class StandaloneForwarder(ForwardingOutbox outbox, EventForwarder forwarder, IOptions<ForwardingOptions> options, TimeProvider time, ILogger<StandaloneForwarder> logger)
    : BackgroundService
{
    private const int BatchSize = 16;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = MinPollingInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var handled = await PollOnceAsync(stoppingToken);
                // Back off while the queue is empty, as the host does, up to the configured ceiling.
                delay = handled > 0 ? MinPollingInterval : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.MaxPollingInterval.Ticks));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Polling {Queue} failed; trying again in {Delay}", ForwardingOutbox.QueueName, options.Value.MaxPollingInterval);
                delay = options.Value.MaxPollingInterval;
            }
            await Task.Delay(delay, time, stoppingToken);
        }
    }

    /// <summary>Takes one batch of messages and settles each; returns how many it took.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        await outbox.EnsureCreatedAsync(cancellationToken);
        var messages = await outbox.Queue.ReceiveMessagesAsync(BatchSize, Lease, cancellationToken);
        foreach (var m in messages)
        {
            await SettleAsync(m, cancellationToken);
        }
        return messages.Count;
    }

    private async Task SettleAsync(QueueMessage m, CancellationToken cancellationToken)
    {
        var o = options.Value;
        try
        {
            var text = QueueClient.DecodeBase64(m.MessageText);
            if (text is null)
            {
                // The host cannot bind such a message either; it fails every try and ends in the poison queue.
                throw new FormatException("The message text is not base64 of UTF-8 (the queue trigger's messageEncoding).");
            }
            await forwarder.ForwardAsync(text, m.DequeueCount, cancellationToken);
            await outbox.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
        }
        catch (Exception ex) when (ex is ForwardingTransientException or FormatException or StorageRequestException or HttpRequestException or TimeoutException)
        {
            if (m.DequeueCount >= o.MaxDequeueCount)
            {
                await outbox.PoisonQueue.SendMessageAsync(m.MessageText, cancellationToken: cancellationToken);
                await outbox.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
                logger.LogError("Forward message {MessageId} failed {DequeueCount} times; moved to {PoisonQueue}: {Reason}",
                    m.MessageId, m.DequeueCount, ForwardingOutbox.PoisonQueueName, ex.Message);
            }
            else
            {
                await outbox.Queue.UpdateVisibilityAsync(m.MessageId, m.PopReceipt, o.RetryDelay, cancellationToken);
                logger.LogWarning("Forward message {MessageId} failed on try {DequeueCount} of {MaxDequeueCount}; retrying in {RetryDelay}: {Reason}",
                    m.MessageId, m.DequeueCount, o.MaxDequeueCount, o.RetryDelay, ex.Message);
            }
        }
    }
}

public static class StandaloneForwarderExtensions
{
    /// <summary>Polls the forward queue in-process when there is no Functions host (unless <c>AuditTrail:Forwarding:PollQueue</c> is false).</summary>
    public static IServiceCollection AddStandaloneForwarder(this IServiceCollection services, IConfiguration configuration, HostingMode mode)
    {
        services.AddSingleton<StandaloneForwarder>();
        if (mode == HostingMode.Standalone && configuration.GetValue($"{ForwardingOptions.Section}:PollQueue", true))
        {
            services.AddHostedService(sp => sp.GetRequiredService<StandaloneForwarder>());
        }
        return services;
    }
}
