using AuditTrail.Core.Ingestion;

namespace AuditTrail.Client;

/// <summary>How the producer retries: attempts per batch and the backoff between them.</summary>
public sealed record AuditTrailProducerOptions
{
    /// <summary>Tries per batch, the first included.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The first wait; each next one doubles, up to <see cref="MaxRetryDelay"/>. A Retry-After from the trail wins when longer.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock the events are validated against, and the retries wait on.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>The outcome of a send, added up over its batches.</summary>
public sealed record ProduceResult(int Sent, int Batches, int Retries, int Accepted, int Duplicates, IReadOnlyList<RemoteRejection> Rejected);

/// <summary>A batch still failing after every try: the events before it were sent; this batch and those after were not known to be.</summary>
public sealed class AuditTrailSendException(string message, int eventsSent, Exception inner) : Exception(message, inner)
{
    /// <summary>Events acknowledged before the failing batch (in the order given).</summary>
    public int EventsSent { get; } = eventsSent;
}

/// <summary>
/// Sends audit events to the trail through a door (<see cref="HttpIngestTransport"/> or
/// <see cref="EventHubsTransport"/>). Every event is checked first with the trail's own reader, so
/// an event the trail would refuse is refused here, before anything is sent; events are grouped by
/// workspace in the order given and batched under the door's limits; a transient failure is retried
/// with the very same bytes, so a retry is at worst a duplicate, never a second event.
/// </summary>
public sealed class AuditTrailProducer(IAuditEventTransport transport, AuditTrailProducerOptions? options = null)
{
    private readonly AuditTrailProducerOptions _options = options ?? new AuditTrailProducerOptions();

    /// <summary>Sends one workspace's events through Event Hubs.</summary>
    public static AuditTrailProducer ForEventHubs(Azure.Messaging.EventHubs.Producer.EventHubProducerClient producer, AuditTrailProducerOptions? options = null) =>
        new(new EventHubsTransport(producer), options);

    /// <summary>Sends through the HTTP door; <paramref name="http"/>'s BaseAddress is the trail's address (ending in '/').</summary>
    public static AuditTrailProducer ForHttp(HttpClient http, string accessToken, AuditTrailProducerOptions? options = null) =>
        new(new HttpIngestTransport(http, accessToken), options);

    /// <summary>Checks every event as the trail will; throws <see cref="AuditEventRejectedException"/> for the first it would refuse.</summary>
    public IReadOnlyList<EncodedEvent> Validate(IReadOnlyList<NewAuditEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var now = _options.Time.GetUtcNow();
        var encoded = new List<EncodedEvent>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var json = events[i].ToUtf8Json();
            // No route workspace: the event must name its own, as an Event Hubs message must.
            var read = AuditEventReader.Read(RawEvent.FromUtf8(json), i, null, now);
            if (read.Rejection is { } r)
            {
                throw new AuditEventRejectedException(i, r.Code, r.Reason, r.Field);
            }
            encoded.Add(new EncodedEvent(events[i].Id, json));
        }
        return encoded;
    }

    public Task<ProduceResult> SendAsync(NewAuditEvent e, CancellationToken cancellationToken = default) => SendAsync([e], cancellationToken);

    public async Task<ProduceResult> SendAsync(IReadOnlyList<NewAuditEvent> events, CancellationToken cancellationToken = default)
    {
        var encoded = Validate(events);
        int sent = 0, batches = 0, retries = 0, accepted = 0, duplicates = 0;
        var rejected = new List<RemoteRejection>();
        foreach (var (workspaceId, batch) in Batches(events, encoded))
        {
            var (report, tries) = await SendWithRetriesAsync(workspaceId, batch, sent, cancellationToken);
            sent += report.Sent;
            batches++;
            retries += tries - 1;
            accepted += report.Accepted;
            duplicates += report.Duplicates;
            rejected.AddRange(report.Rejected);
        }
        return new ProduceResult(sent, batches, retries, accepted, duplicates, rejected);
    }

    /// <summary>One workspace at a time, in the order given (so one workspace's events keep their order), each cut at the door's limits.</summary>
    internal IEnumerable<(string WorkspaceId, IReadOnlyList<EncodedEvent> Batch)> Batches(IReadOnlyList<NewAuditEvent> events, IReadOnlyList<EncodedEvent> encoded)
    {
        foreach (var group in Enumerable.Range(0, events.Count).GroupBy(i => events[i].WorkspaceId, StringComparer.Ordinal))
        {
            var batch = new List<EncodedEvent>();
            long bytes = 0;
            foreach (var i in group)
            {
                var size = encoded[i].Json.Length + transport.BytesPerEvent;
                if (batch.Count > 0 && (batch.Count == transport.MaxEventsPerSend || bytes + size > transport.MaxBytesPerSend))
                {
                    yield return (group.Key, batch);
                    batch = [];
                    bytes = 0;
                }
                batch.Add(encoded[i]);
                bytes += size;
            }
            yield return (group.Key, batch);
        }
    }

    private async Task<(SendReport Report, int Tries)> SendWithRetriesAsync(string workspaceId, IReadOnlyList<EncodedEvent> batch, int sentBefore, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await transport.SendAsync(workspaceId, batch, cancellationToken), attempt);
            }
            catch (AuditTrailTransientException ex) when (attempt < _options.MaxAttempts)
            {
                var wait = ex.RetryAfter is { } asked && asked > delay ? asked : delay;
                await Task.Delay(wait, _options.Time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
            catch (AuditTrailTransientException ex)
            {
                throw new AuditTrailSendException($"A batch of {batch.Count} events for workspace {workspaceId} still failed after {attempt} tries: {ex.Message}", sentBefore, ex);
            }
        }
    }
}
