using System.Net.Http.Headers;
using System.Text;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Forwarding;

/// <summary>What became of one forward message.</summary>
public enum ForwardOutcome
{
    /// <summary>Every event the message names was accepted by the source (or held back by suppression).</summary>
    Delivered,

    /// <summary>Forwarding is off (or has no key) now: nothing sent, the message is done.</summary>
    Disabled,

    /// <summary>
    /// The source refused for good (a 4xx other than 408/429, or a 3xx: redirects are not
    /// followed), or the endpoint is on an internal address: recorded, dead-lettered, not retried.
    /// </summary>
    Rejected,

    /// <summary>The message could not be read: dead-lettered, not retried.</summary>
    Unreadable,
}

public sealed record ForwardResult(ForwardOutcome Outcome, int Sent, int Suppressed, int Missing, string Summary);

/// <summary>
/// A failure worth another try (429, 408, 5xx, a timeout, no connection). The queue function lets
/// it fail the invocation so the host retries and, after <c>maxDequeueCount</c>, poisons the message.
/// Its message names the status and the endpoint, never the write key.
/// </summary>
public sealed class ForwardingTransientException(string message, int status, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;
}

/// <summary>
/// The <c>ForwardAuditEvents</c> queue function's work: read the events a message names from the
/// trail, leave out suppressed transient failures, post the rest to the workspace's source as
/// <c>/v1/batch</c> calls (Basic auth with the write key) and report the outcome. Settings are read
/// afresh, so turning forwarding off stops sending at once, even for work already queued.
/// </summary>
public sealed class EventForwarder(
    HttpClient http, TrailTables store, ForwardingSettingsStore settings, DeadLetterStore deadLetters, ForwardingDeadLetters resendable,
    TimeProvider time, ILogger<EventForwarder> logger, AuditTrailTelemetry? telemetry = null)
{
    public const string HttpClientName = "AuditForwarding";
    public const string Door = "forward";
    private const int ReadParallelism = 8;

    /// <summary>Longest status line kept of a source's answer; its body is never read.</summary>
    public const int MaxReasonChars = 200;

    public async Task<ForwardResult> ForwardAsync(string messageText, long dequeueCount, CancellationToken cancellationToken = default)
    {
        var message = ForwardMessage.TryParse(messageText, out var error);
        if (message is null)
        {
            return await DeadLetterAsync(messageText, error!, cancellationToken);
        }

        var workspace = message.WorkspaceId;
        var current = await settings.GetAsync(workspace, cancellationToken);
        if (!current.Enabled || current.WriteKey is null)
        {
            logger.LogInformation("Forwarding of {WorkspaceId} is off; {Events} events not sent", workspace, message.EventCount);
            return new ForwardResult(ForwardOutcome.Disabled, 0, 0, 0, $"Forwarding is off for {workspace}; nothing sent.");
        }

        var (events, missing, receivedAt) = await LoadAsync(message, cancellationToken);
        var toSend = current.SuppressTransientFailures ? events.Where(e => !TransientFailures.WillBeRetried(e)).ToList() : events;
        var endpoint = settings.EndpointOf(current);
        var refused = new RefusedForward(message, messageText, endpoint, toSend.Count, events.Count - toSend.Count, missing);

        // The key goes only to the endpoint it was given for. The settings API keeps the two together;
        // a row changed any other way (storage written directly, a row older than the binding, a
        // changed default endpoint) is not trusted with the key.
        if (toSend.Count > 0 && !settings.KeyIsBound(current))
        {
            return await RefusedAsync(refused, 0, 0, $"The write key was not given for {ForwardingSettingsStore.Canonical(endpoint)}; nothing was sent. Send the write key again with the endpoint, then resend.", cancellationToken);
        }
        var (sent, refusal) = await SendAsync(endpoint, current.WriteKey, toSend, receivedAt, workspace, dequeueCount, cancellationToken);
        if (refusal is { } refusedBatch)
        {
            return await RefusedAsync(refused, sent, refusedBatch.Status, refusedBatch.Reason, cancellationToken);
        }
        logger.LogInformation("Forwarded {Sent} events of {WorkspaceId} to {Endpoint} ({Suppressed} transient failures held back, {Missing} no longer stored; try {DequeueCount})",
            sent, workspace, endpoint, refused.Suppressed, missing, dequeueCount);
        return new ForwardResult(ForwardOutcome.Delivered, sent, refused.Suppressed, missing,
            $"Forwarded {sent} events ({refused.Suppressed} held back as transient failures, {missing} no longer stored).");
    }

    /// <summary>What a refusal reports and keeps of the message being forwarded.</summary>
    private sealed record RefusedForward(ForwardMessage Message, string MessageText, Uri Endpoint, int ToSend, int Suppressed, int Missing);

    /// <summary>
    /// Posts the events as <c>/v1/batch</c> calls in order, stopping at the first the source refuses
    /// for good: how many were sent, and that refusal if there was one. A failure worth retrying throws.
    /// </summary>
    private async Task<(int Sent, (int Status, string Reason)? Refusal)> SendAsync(
        Uri endpoint, string writeKey, IReadOnlyList<AuditEvent> toSend, Dictionary<AuditEvent, DateTimeOffset?> receivedAt, string workspace, long dequeueCount, CancellationToken cancellationToken)
    {
        var sent = 0;
        foreach (var (body, calls) in TrackCalls.Batches(toSend.Select(TrackCalls.Serialize)))
        {
            (int Status, string Reason)? refusal;
            try
            {
                refusal = await PostAsync(endpoint, writeKey, body, workspace, dequeueCount, cancellationToken);
            }
            catch (ForwardingTransientException ex)
            {
                telemetry?.ForwardCall("retry", ex.Status);
                throw;
            }
            telemetry?.ForwardCall(refusal is null ? "delivered" : "rejected", refusal?.Status ?? 200);
            if (refusal is not null)
            {
                return (sent, refusal);
            }
            telemetry?.Forwarded(toSend.Skip(sent).Take(calls).Select(e => receivedAt.GetValueOrDefault(e)).ToList(), time.GetUtcNow());
            sent += calls;
        }
        return (sent, null);
    }

    /// <summary>Recorded for the owner, dead-lettered and kept for a resend once the setting is fixed; not retried.</summary>
    private async Task<ForwardResult> RefusedAsync(RefusedForward forward, int sent, int status, string reason, CancellationToken cancellationToken)
    {
        var workspace = forward.Message.WorkspaceId;
        var failure = new ForwardingFailure(time.GetUtcNow(), status, reason, forward.ToSend - sent);
        await settings.RecordFailureAsync(workspace, failure, cancellationToken);
        var blob = await deadLetters.WriteAsync(
            [(new IngestRejection(0, "forward_rejected", $"{forward.Endpoint}: {failure.Reason}"), RawEvent.FromText(forward.MessageText))],
            new IngestContext(Door, workspace), time.GetUtcNow(), cancellationToken);
        await resendable.RecordAsync(forward.Message, forward.MessageText, blob, failure, cancellationToken);
        logger.LogWarning("Source of {WorkspaceId} at {Endpoint} refused {Events} events with {Status} ({Reason}); not retried, dead-lettered to {DeadLetterBlob}",
            workspace, forward.Endpoint, failure.EventCount, failure.Status, failure.Reason, blob);
        return new ForwardResult(ForwardOutcome.Rejected, sent, forward.Suppressed, forward.Missing, $"The source refused events with {failure.Status}: {failure.Reason}");
    }

    /// <summary>Keeps a message (or invocation) that cannot be read, with the reason; retrying it could never succeed.</summary>
    public async Task<ForwardResult> DeadLetterAsync(string rawText, string reason, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var blob = await deadLetters.WriteAsync([(new IngestRejection(0, "forward_message_unreadable", reason), RawEvent.FromText(rawText))],
            new IngestContext(Door), time.GetUtcNow(), cancellationToken);
        logger.LogWarning("Forward message unreadable ({Reason}); dead-lettered to {DeadLetterBlob}", reason, blob);
        return new ForwardResult(ForwardOutcome.Unreadable, 0, 0, 0, $"Unreadable message dead-lettered to audit-deadletter/{blob}: {reason}");
    }

    /// <summary>Point reads of the named primary rows; rows gone (retention got there first) are counted, not fatal.</summary>
    private async Task<(List<AuditEvent> Events, int Missing, Dictionary<AuditEvent, DateTimeOffset?> ReceivedAt)> LoadAsync(ForwardMessage message, CancellationToken cancellationToken)
    {
        var keys = message.Partitions.SelectMany(p => p.Rows.Select(r => (p.PartitionKey, Row: r))).ToList();
        var found = new AuditEvent?[keys.Count];
        var received = new DateTimeOffset?[keys.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, keys.Count), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var stored = await store.Events.FindAsync(keys[i].PartitionKey, keys[i].Row, ct);
                // A message can only name its own workspace's rows: anything else is not sent.
                if (stored is not null && stored.Event.WorkspaceId == message.WorkspaceId)
                {
                    found[i] = stored.Event;
                    received[i] = stored.ReceivedAt; // the start of the forward lag
                }
            });
        var events = found.OfType<AuditEvent>().ToList();
        var receivedAt = new Dictionary<AuditEvent, DateTimeOffset?>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < found.Length; i++)
        {
            if (found[i] is { } e)
            {
                receivedAt[e] = received[i];
            }
        }
        return (events, keys.Count - events.Count, receivedAt);
    }

    /// <summary>
    /// Null when the source took the batch; the refusal when it said no for good (a 3xx or a 4xx
    /// other than 408/429, or the endpoint is on an internal address: status 0); throws when worth
    /// retrying. Only the answer's status line is kept: its body is never read, so nothing a source
    /// writes there reaches the settings, a dead letter or a log.
    /// </summary>
    private async Task<(int Status, string Reason)?> PostAsync(Uri endpoint, string writeKey, byte[] body, string workspace, long dequeueCount, CancellationToken cancellationToken)
    {
        var target = new Uri(endpoint.ToString().TrimEnd('/') + "/v1/batch");
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":")));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex) when (Refusal(ex) is { } refused)
        {
            return (0, refused.Message);
        }
        catch (HttpRequestException ex)
        {
            throw new ForwardingTransientException($"No answer from {target.GetLeftPart(UriPartial.Path)} for {workspace}: {ex.HttpRequestError} (try {dequeueCount}).", 0);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ForwardingTransientException($"{target.GetLeftPart(UriPartial.Path)} did not answer in time for {workspace} (try {dequeueCount}).", 0);
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return null;
            }
            var line = StatusLine(response, writeKey);
            if (status is 408 or 429 || status >= 500)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? $"; Retry-After {delta.TotalSeconds:0} s" : string.Empty;
                throw new ForwardingTransientException($"{target.GetLeftPart(UriPartial.Path)} answered {line} for {workspace}{retryAfter} (try {dequeueCount}).", status);
            }
            // A redirect is not followed (the client has no automatic redirects): the source did not take the events.
            return (status, status is >= 300 and < 400 ? line + "; redirects are not followed, set the endpoint to the source itself" : line);
        }
    }

    private static ForwardingEndpointRefusedException? Refusal(Exception ex)
    {
        for (var e = ex.InnerException; e is not null; e = e.InnerException)
        {
            if (e is ForwardingEndpointRefusedException refused)
            {
                return refused;
            }
        }
        return null;
    }

    /// <summary>
    /// "401 Unauthorized": the status and the source's reason phrase, printable characters only,
    /// bounded, with the key removed in case the source echoes it back.
    /// </summary>
    internal static string StatusLine(HttpResponseMessage response, string writeKey)
    {
        var phrase = new string((response.ReasonPhrase ?? string.Empty).Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Trim();
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":"));
        phrase = phrase.Replace(basic, "[credentials]", StringComparison.Ordinal).Replace(writeKey, "[write key]", StringComparison.Ordinal);
        var line = phrase.Length == 0 ? ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{(int)response.StatusCode} {phrase}";
        return line.Length > MaxReasonChars ? line[..MaxReasonChars] + "…" : line;
    }
}
