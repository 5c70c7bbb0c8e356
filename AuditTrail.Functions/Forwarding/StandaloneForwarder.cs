using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Hosting;
using Azure;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// Standalone mode's stand-in for the queue trigger: polls <c>audit-forward</c> and hands each
/// message to the same <see cref="EventForwarder"/>, with the host's rules: base64 message text,
/// a failed message comes back after <see cref="ForwardingOptions.RetryDelay"/>, one that has
/// failed <see cref="ForwardingOptions.MaxDequeueCount"/> times is copied to
/// <c>audit-forward-poison</c> and deleted, and one that is not base64 goes there at once, as it
/// is (the host's queue extension handles the client's decoding failures so).
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
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Nothing may end the loop but the app stopping: a storage try timeout is a cancellation too.
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
        var messages = (await outbox.Queue.ReceiveMessagesAsync(BatchSize, Lease, cancellationToken)).Value;
        foreach (var m in messages)
        {
            await SettleAsync(m, cancellationToken);
        }
        return messages.Length;
    }

    private async Task SettleAsync(QueueMessage m, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var messageText = m.Body.ToString();
        var text = ForwardingOutbox.DecodeBase64(messageText);
        if (text is null)
        {
            // No try could ever bind it: copied unchanged for someone to look at, as the host does.
            await ForwardingOutbox.SendAsync(outbox.PoisonQueue, messageText, cancellationToken);
            await outbox.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
            logger.LogError("Forward message {MessageId} is not base64 of UTF-8 (the queue trigger's messageEncoding); moved to {PoisonQueue} as it is",
                m.MessageId, ForwardingOutbox.PoisonQueueName);
            return;
        }
        try
        {
            await forwarder.ForwardAsync(text, m.DequeueCount, cancellationToken);
            await outbox.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
        }
        catch (Exception ex) when (ex is ForwardingTransientException or RequestFailedException || StorageFailures.IsUnavailable(ex, cancellationToken))
        {
            if (m.DequeueCount >= o.MaxDequeueCount)
            {
                await ForwardingOutbox.SendAsync(outbox.PoisonQueue, messageText, cancellationToken);
                await outbox.Queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
                logger.LogError("Forward message {MessageId} failed {DequeueCount} times; moved to {PoisonQueue}: {Reason}",
                    m.MessageId, m.DequeueCount, ForwardingOutbox.PoisonQueueName, Reason(ex));
            }
            else
            {
                await outbox.Queue.UpdateMessageAsync(m.MessageId, m.PopReceipt, visibilityTimeout: o.RetryDelay, cancellationToken: cancellationToken);
                logger.LogWarning("Forward message {MessageId} failed on try {DequeueCount} of {MaxDequeueCount}; retrying in {RetryDelay}: {Reason}",
                    m.MessageId, m.DequeueCount, o.MaxDequeueCount, o.RetryDelay, Reason(ex));
            }
        }
    }

    /// <summary>The source's or storage's answer in one line; a storage error's headers and request stay out of the log.</summary>
    private static string Reason(Exception ex) => ex is ForwardingTransientException ? ex.Message : StorageFailures.Describe(ex);
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
