using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Hosting;
using Azure;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// Standalone mode's stand-in for the queue trigger <c>ForwardAuditEvents</c>: polls
/// <c>audit-forward</c> with the host's rules (<see cref="StandaloneQueuePoller"/>) and hands each
/// message to the same <see cref="EventForwarder"/>. A failed message comes back after
/// <see cref="ForwardingOptions.RetryDelay"/>; one that has failed
/// <see cref="ForwardingOptions.MaxDequeueCount"/> times goes to <c>audit-forward-poison</c>.
/// </summary>
public sealed class StandaloneForwarder(ForwardingOutbox outbox, EventForwarder forwarder, IOptions<ForwardingOptions> options, TimeProvider time, ILogger<StandaloneForwarder> logger)
    : StandaloneQueuePoller(outbox.Queue, outbox.PoisonQueue, time, logger)
{
    protected override QueueTriggerOptions Polling => options.Value;

    protected override string FunctionName => ForwardingApi.QueueFunction;

    protected override Task EnsureCreatedAsync(CancellationToken cancellationToken) => outbox.EnsureCreatedAsync(cancellationToken);

    protected override async Task HandleAsync(string messageText, long dequeueCount, CancellationToken cancellationToken) =>
        await forwarder.ForwardAsync(messageText, dequeueCount, cancellationToken);

    protected override bool IsFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is ForwardingTransientException or RequestFailedException || StorageFailures.IsUnavailable(exception, cancellationToken);

    /// <summary>The source's or storage's answer in one line; a storage error's headers and request stay out of the log.</summary>
    protected override string Describe(Exception exception) => exception is ForwardingTransientException ? exception.Message : StorageFailures.Describe(exception);
}

public static class StandaloneForwarderExtensions
{
    /// <summary>Polls the forward queue in-process when there is no Functions host (unless <c>AuditTrail:Forwarding:PollQueue</c> is false).</summary>
    public static IServiceCollection AddStandaloneForwarder(this IServiceCollection services, IConfiguration configuration, HostingMode mode)
        => services.AddStandaloneQueuePoller<StandaloneForwarder>(configuration, ForwardingOptions.Section, mode);
}
