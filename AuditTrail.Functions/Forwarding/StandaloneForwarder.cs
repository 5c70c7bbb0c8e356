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
/// is (the host's queue extension handles the client's decoding failures so). Like the trigger,
/// up to <see cref="ForwardingOptions.BatchSize"/> messages are forwarded at once and more are
/// fetched as soon as half of them are done, so a source that holds a try to its timeout delays
/// only its own messages.
/// </summary>
public sealed class StandaloneForwarder(ForwardingOutbox outbox, EventForwarder forwarder, IOptions<ForwardingOptions> options, TimeProvider time, ILogger<StandaloneForwarder> logger)
    : BackgroundService
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batchSize = options.Value.BatchSize;
        var threshold = batchSize / 2;
        var running = new List<Task>();
        var delay = MinPollingInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                running.RemoveAll(t => t.IsCompleted);
                if (running.Count > threshold)
                {
                    await Task.WhenAny(running);
                    continue;
                }
                try
                {
                    await outbox.EnsureCreatedAsync(stoppingToken);
                    var messages = (await outbox.Queue.ReceiveMessagesAsync(Math.Min(ForwardingOutbox.MaxMessagesPerReceive, batchSize - running.Count), Lease, stoppingToken)).Value;
                    running.AddRange(messages.Select(m => SettleLoggedAsync(m, stoppingToken)));
                    if (messages.Length > 0)
                    {
                        delay = MinPollingInterval;
                        continue;
                    }
                    // Back off while the queue is empty, as the host does, up to the configured ceiling.
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.MaxPollingInterval.Ticks));
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
        finally
        {
            // Messages in flight see the stopping token; their leases bring them back if unsettled.
            await Task.WhenAll(running);
        }
    }

    /// <summary>Takes one batch of messages and settles them all, at once; returns how many it took.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        await outbox.EnsureCreatedAsync(cancellationToken);
        var messages = (await outbox.Queue.ReceiveMessagesAsync(options.Value.BatchSize, Lease, cancellationToken)).Value;
        await Task.WhenAll(messages.Select(m => SettleAsync(m, cancellationToken)));
        return messages.Length;
    }

    private async Task SettleLoggedAsync(QueueMessage m, CancellationToken cancellationToken)
    {
        try
        {
            await SettleAsync(m, cancellationToken);
        }
        catch (Exception ex)
        {
            // The lease brings the message back; the loop and the other messages go on.
            if (!cancellationToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Forward message {MessageId} could not be settled on try {DequeueCount}; it comes back when its lease ends", m.MessageId, m.DequeueCount);
            }
        }
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
