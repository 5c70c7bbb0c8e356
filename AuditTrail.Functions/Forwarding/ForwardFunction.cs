using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.FunctionsHost;
using Azure;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// The queue function <c>ForwardAuditEvents</c> as standalone mode runs it: <c>audit-forward</c>'s
/// messages to the same <see cref="EventForwarder"/>. A failed message comes back after
/// <see cref="ForwardingOptions.RetryDelay"/>; one that has failed
/// <see cref="ForwardingOptions.MaxDequeueCount"/> times goes to <c>audit-forward-poison</c>.
/// </summary>
public sealed class ForwardFunction(ForwardingOutbox outbox, EventForwarder forwarder, IOptions<ForwardingOptions> options) : IQueueFunction
{
    public string Name => ForwardingApi.QueueFunction;

    public QueueClient Queue => outbox.Queue;

    public QueueClient PoisonQueue => outbox.PoisonQueue;

    public QueueTriggerOptions Polling => options.Value;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken) => outbox.EnsureCreatedAsync(cancellationToken);

    public async Task HandleAsync(string messageText, long dequeueCount, CancellationToken cancellationToken) =>
        await forwarder.ForwardAsync(messageText, dequeueCount, cancellationToken);

    public bool IsFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is ForwardingTransientException or RequestFailedException || StorageFailures.IsUnavailable(exception, cancellationToken);

    /// <summary>The source's or storage's answer in one line; a storage error's headers and request stay out of the log.</summary>
    public string Describe(Exception exception) => exception is ForwardingTransientException ? exception.Message : StorageFailures.Describe(exception);
}
