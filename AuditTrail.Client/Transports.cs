using System.Net;
using System.Net.Http.Headers;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Producer;

namespace AuditTrail.Client;

/// <summary>One event, serialized once: every try of a send carries these same bytes, and so the same id.</summary>
public sealed record EncodedEvent(string Id, ReadOnlyMemory<byte> Json);

/// <summary>What one send achieved. Over Event Hubs the trail judges events later, so all count as <see cref="Sent"/>.</summary>
public sealed record SendReport(int Sent, int Accepted, int Duplicates, IReadOnlyList<RemoteRejection> Rejected);

/// <summary>An event the trail refused on arrival (HTTP door), with its stable code.</summary>
public sealed record RemoteRejection(string? EventId, string Code, string Reason, string? Field);

/// <summary>A failure worth another try with the same events: nothing, or not all, was acknowledged.</summary>
public sealed class AuditTrailTransientException : Exception
{
    public AuditTrailTransientException()
    {
    }

    public AuditTrailTransientException(string message) : base(message)
    {
    }

    public AuditTrailTransientException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>How long the trail asked to wait (Retry-After), if it said.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>
/// A door into the trail. The producer batches within <see cref="MaxEventsPerSend"/> and
/// <see cref="MaxBytesPerSend"/> (the JSON of the events, plus <see cref="BytesPerEvent"/> each),
/// one workspace per send, and retries what throws <see cref="AuditTrailTransientException"/>.
/// </summary>
public interface IAuditEventTransport
{
    int MaxEventsPerSend { get; }
    long MaxBytesPerSend { get; }
    int BytesPerEvent { get; }

    Task<SendReport> SendAsync(string workspaceId, IReadOnlyList<EncodedEvent> events, CancellationToken cancellationToken);
}

/// <summary>
/// The HTTP door, <c>POST /api/workspaces/{workspaceId}/audit-events</c>: at most 1,000 events and
/// 4 MiB a request. A 503/429/5xx or a connection failure is transient (the trail acknowledged
/// nothing; events it had stored come back as duplicates); other refusals are typed problems.
/// </summary>
public sealed class HttpIngestTransport(HttpClient http, string accessToken) : IAuditEventTransport
{
    public const int MaxEvents = 1000;
    public const long MaxBodyBytes = 4L * 1024 * 1024;

    public int MaxEventsPerSend => MaxEvents;

    /// <summary>Less the array's brackets.</summary>
    public long MaxBytesPerSend => MaxBodyBytes - 2;

    /// <summary>The comma between events.</summary>
    public int BytesPerEvent => 1;

    public async Task<SendReport> SendAsync(string workspaceId, IReadOnlyList<EncodedEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var body = new byte[2 + events.Sum(e => e.Json.Length) + Math.Max(0, events.Count - 1)];
        body[0] = (byte)'[';
        var at = 1;
        for (var i = 0; i < events.Count; i++)
        {
            if (i > 0)
            {
                body[at++] = (byte)',';
            }
            events[i].Json.Span.CopyTo(body.AsSpan(at));
            at += events[i].Json.Length;
        }
        body[at] = (byte)']';
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/workspaces/{Uri.EscapeDataString(workspaceId)}/audit-events")
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new AuditTrailTransientException($"The trail could not be reached: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AuditTrailTransientException("The trail did not answer in time.", ex);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var answer = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync(response.Content, ClientJsonContext.Default.IngestAnswer, cancellationToken)
                             ?? throw new AuditTrailTransientException("The trail's answer was empty.");
                return new SendReport(events.Count, answer.Accepted, answer.Duplicates,
                    answer.Rejected.Select(r => new RemoteRejection(r.EventId, r.Code, r.Reason, r.Field)).ToList());
            }
            var problem = await Problems.ReadAsync(response, cancellationToken);
            if (problem.IsTransient)
            {
                throw new AuditTrailTransientException(problem.Message, problem) { RetryAfter = response.Headers.RetryAfter?.Delta };
            }
            throw problem;
        }
    }
}

/// <summary>
/// The Event Hubs door: one message per event, sent in batches whose partition key is the
/// workspace, so one workspace's events reach one partition and are ingested in order.
/// </summary>
public sealed class EventHubsTransport(EventHubProducerClient producer) : IAuditEventTransport
{
    /// <summary>Under the hub's 1 MB batch (Basic: 256 KB: lower it with <see cref="MaxBytes"/>), with room for each message's AMQP framing.</summary>
    public long MaxBytes { get; init; } = 900 * 1024;

    public int MaxEventsPerSend { get; init; } = 500;

    public long MaxBytesPerSend => MaxBytes;

    /// <summary>An estimate of a message's framing; the batch itself has the last word (TryAdd).</summary>
    public int BytesPerEvent => 64;

    public async Task<SendReport> SendAsync(string workspaceId, IReadOnlyList<EncodedEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var options = new CreateBatchOptions { PartitionKey = workspaceId };
        try
        {
            var batch = await producer.CreateBatchAsync(options, cancellationToken);
            try
            {
                foreach (var e in events)
                {
                    var data = new EventData(e.Json) { MessageId = e.Id, ContentType = "application/json" };
                    if (batch.TryAdd(data))
                    {
                        continue;
                    }
                    if (batch.Count == 0)
                    {
                        throw new InvalidOperationException($"Event {e.Id} does not fit in an empty Event Hubs batch ({batch.MaximumSizeInBytes} bytes).");
                    }
                    // The estimate was short: send what fits, in order, and go on in a new batch.
                    await producer.SendAsync(batch, cancellationToken);
                    batch.Dispose();
                    batch = await producer.CreateBatchAsync(options, cancellationToken);
                    if (!batch.TryAdd(data))
                    {
                        throw new InvalidOperationException($"Event {e.Id} does not fit in an empty Event Hubs batch ({batch.MaximumSizeInBytes} bytes).");
                    }
                }
                await producer.SendAsync(batch, cancellationToken);
            }
            finally
            {
                batch.Dispose();
            }
        }
        catch (EventHubsException ex) when (ex.IsTransient)
        {
            throw new AuditTrailTransientException($"Event Hubs: {ex.Message}", ex);
        }
        catch (TimeoutException ex)
        {
            throw new AuditTrailTransientException($"Event Hubs did not answer in time: {ex.Message}", ex);
        }
        return new SendReport(events.Count, 0, 0, []);
    }
}

internal sealed record IngestAnswer(int Received, int Accepted, int Duplicates, int RejectedCount, IReadOnlyList<IngestAnswerRejection> Rejected, IReadOnlyList<string> UncatalogedTypes);

internal sealed record IngestAnswerRejection(int Index, string Code, string Reason, string? Field, string? EventId, string? WorkspaceId);
