using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>
/// Standalone mode's stand-in for a queue trigger: polls a queue and hands each message to a
/// handler, with the host's rules. Message text is base64 (a message that is not goes to the
/// poison queue at once, as it is, as the host's queue extension does with the client's decoding
/// failures); up to <see cref="QueueTriggerOptions.BatchSize"/> messages are handled at once and more are
/// fetched when half are done, as the host does, so one slow message holds up no other; a message stays invisible while it is
/// being handled (its lease renewed); a failed one comes back after <see cref="QueueTriggerOptions.RetryDelay"/>,
/// and one that has failed <see cref="QueueTriggerOptions.MaxDequeueCount"/> times is copied to the poison
/// queue and deleted. A message still being handled when the app stops is made visible again at
/// once, for the next instance to take up.
/// </summary>
public sealed class StandaloneQueuePoller<TFunction>(TFunction function, TimeProvider time, ILogger<StandaloneQueuePoller<TFunction>> logger) : BackgroundService
    where TFunction : IQueueFunction
{
    /// <summary>The most messages one receive may take (the Queue service's limit).</summary>
    private const int MaxMessagesPerReceive = 32;

    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    private readonly QueueClient queue = function.Queue;
    private readonly QueueClient poisonQueue = function.PoisonQueue;

    private QueueTriggerOptions Polling => function.Polling;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batchSize = Polling.BatchSize;
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
                    await function.EnsureCreatedAsync(stoppingToken);
                    var messages = (await queue.ReceiveMessagesAsync(Math.Min(MaxMessagesPerReceive, batchSize - running.Count), Lease, stoppingToken)).Value;
                    running.AddRange(messages.Select(m => SettleLoggedAsync(m, stoppingToken)));
                    if (messages.Length > 0)
                    {
                        delay = MinPollingInterval;
                        continue;
                    }
                    // Back off while the queue is empty, as the host does, up to the configured ceiling.
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Polling.MaxPollingInterval.Ticks));
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Nothing may end the loop but the app stopping: a storage try timeout is a cancellation too.
                    logger.LogError(ex, "Polling {Queue} failed; trying again in {Delay}", queue.Name, Polling.MaxPollingInterval);
                    delay = Polling.MaxPollingInterval;
                }
                await Task.Delay(delay, time, stoppingToken);
            }
        }
        finally
        {
            // Messages in flight see the stopping token and are handed back; their leases bring back any left unsettled.
            await Task.WhenAll(running);
        }
    }

    /// <summary>Takes one batch of messages and settles each, all at once; returns how many it took.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        await function.EnsureCreatedAsync(cancellationToken);
        var messages = (await queue.ReceiveMessagesAsync(Math.Min(MaxMessagesPerReceive, Polling.BatchSize), Lease, cancellationToken)).Value;
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
                logger.LogError(ex, "Message {MessageId} on {Queue} could not be settled on try {DequeueCount}; it comes back when its lease ends", m.MessageId, queue.Name, m.DequeueCount);
            }
        }
    }

    private async Task SettleAsync(QueueMessage m, CancellationToken cancellationToken)
    {
        var messageText = m.Body.ToString();
        var text = QueueMessages.DecodeBase64(messageText);
        if (text is null)
        {
            // No try could ever bind it: copied unchanged for someone to look at, as the host does.
            await QueueMessages.SendAsync(poisonQueue, messageText, cancellationToken);
            await queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
            logger.LogError("Message {MessageId} on {Queue} is not base64 of UTF-8 (the queue trigger's messageEncoding); moved to {PoisonQueue} as it is",
                m.MessageId, queue.Name, poisonQueue.Name);
            return;
        }
        using var activity = AuditTrailTelemetry.StartFunction(function.Name, "pubsub");
        activity?.SetTag("messaging.message.delivery_count", m.DequeueCount);
        var lease = new MessageLease(queue, m, time);
        Exception? failure = null;
        try
        {
            await using (lease.Start(cancellationToken))
            {
                await function.HandleAsync(text, m.DequeueCount, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the next instance takes it up now rather than when the lease would end.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await queue.UpdateMessageAsync(m.MessageId, lease.PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: bound.Token);
            throw;
        }
        catch (Exception ex) when (function.IsFailure(ex, cancellationToken))
        {
            failure = ex;
        }
        if (failure is not null)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            activity?.SetTag("error.type", failure.GetType().FullName);
        }
        if (failure is null)
        {
            await queue.DeleteMessageAsync(m.MessageId, lease.PopReceipt, cancellationToken);
        }
        else if (m.DequeueCount >= Polling.MaxDequeueCount)
        {
            await QueueMessages.SendAsync(poisonQueue, messageText, cancellationToken);
            await queue.DeleteMessageAsync(m.MessageId, lease.PopReceipt, cancellationToken);
            logger.LogError("Message {MessageId} on {Queue} failed {DequeueCount} times; moved to {PoisonQueue}: {Reason}",
                m.MessageId, queue.Name, m.DequeueCount, poisonQueue.Name, function.Describe(failure));
        }
        else
        {
            await queue.UpdateMessageAsync(m.MessageId, lease.PopReceipt, visibilityTimeout: Polling.RetryDelay, cancellationToken: cancellationToken);
            logger.LogWarning("Message {MessageId} on {Queue} failed on try {DequeueCount} of {MaxDequeueCount}; retrying in {RetryDelay}: {Reason}",
                m.MessageId, queue.Name, m.DequeueCount, Polling.MaxDequeueCount, Polling.RetryDelay, function.Describe(failure));
        }
    }

    /// <summary>Keeps a message invisible while it is handled, as the queue trigger does for a long invocation.</summary>
    private sealed class MessageLease(QueueClient queue, QueueMessage message, TimeProvider time) : IAsyncDisposable
    {
        private CancellationTokenSource? _stop;
        private Task _renewing = Task.CompletedTask;

        /// <summary>The current pop receipt: each renewal replaces it.</summary>
        public string PopReceipt { get; private set; } = message.PopReceipt;

        public MessageLease Start(CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _renewing = RenewAsync(_stop.Token);
            return this;
        }

        private async Task RenewAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(Lease / 2, time, cancellationToken);
                    PopReceipt = (await queue.UpdateMessageAsync(message.MessageId, PopReceipt, visibilityTimeout: Lease, cancellationToken: cancellationToken)).Value.PopReceipt;
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Handled (or stopping): no more renewals.
            }
            catch (Exception)
            {
                // The lease ends as it would have; the message may be taken up again, which every handler survives.
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_stop is not null)
            {
                await _stop.CancelAsync();
                await _renewing;
                _stop.Dispose();
            }
        }
    }
}

/// <summary>
/// A queue-triggered function as standalone mode runs it (<see cref="StandaloneQueuePoller{TFunction}"/>):
/// its queues, the host's settings for them, and the handler the host invocation calls too.
/// </summary>
public interface IQueueFunction
{
    /// <summary>The queue function this stands in for: the name of each message's span, as the host's invocation would be.</summary>
    string Name { get; }

    QueueClient Queue { get; }

    QueueClient PoisonQueue { get; }

    /// <summary>The queue's settings: host.json's <c>extensions.queues</c> as the trigger applies them in Azure.</summary>
    QueueTriggerOptions Polling { get; }

    Task EnsureCreatedAsync(CancellationToken cancellationToken);

    /// <summary>Handles one message's text; throws for a failure the message should be tried again for.</summary>
    Task HandleAsync(string messageText, long dequeueCount, CancellationToken cancellationToken);

    /// <summary>Which failures count against the message's tries; any other is not expected and ends the poll (logged, the message comes back when its lease ends).</summary>
    bool IsFailure(Exception exception, CancellationToken cancellationToken) => true;

    /// <summary>The failure in one line for the log.</summary>
    string Describe(Exception exception) => StorageFailures.Describe(exception);
}
