using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Forwarding;

/// <summary>
/// Maps an audit event to one <c>track</c> call of the HTTP tracking API (docs/forwarding.md):
/// <list type="bullet">
/// <item><c>event</c> = the audit event's type; <c>timestamp</c> = when it happened;</item>
/// <item><c>messageId</c> = the audit event id (ids of 100 characters or more: <c>at-</c> + SHA-256 of the id),
/// so every retry and replay carries the same id and the receiver keeps one copy;</item>
/// <item><c>userId</c> = the actor id when the actor is a user; otherwise no userId and
/// <c>anonymousId</c> = <c>{actorType}:{actorId}</c> (a token or the system is not a person);</item>
/// <item><c>properties</c> = every field of the event, with <c>changes</c> and the producer's
/// <c>properties</c> (as <c>details</c>) as JSON, not text.</item>
/// </list>
/// </summary>
public static class TrackCalls
{
    /// <summary>The tracking API's cap per event.</summary>
    public const int MaxCallBytes = 32 * 1024;

    /// <summary>
    /// The tracking API's cap per batch request, in bytes of the body. A body is always smaller:
    /// the API answers 400 at the cap, which the forwarder would take as permanent.
    /// </summary>
    public const int MaxBatchBytes = 500_000;

    /// <summary>Above this the API answers 200 but drops events.</summary>
    public const int MaxBatchCalls = 2500;

    private static ReadOnlySpan<byte> BatchHead => "{\"batch\":["u8;

    private static ReadOnlySpan<byte> BatchTail => "],\"context\":{\"library\":{\"name\":\"audit-trail-forwarder\",\"version\":\"1\"}}}"u8;

    public static string MessageId(string eventId) => eventId.Length < 100
        ? eventId
        : "at-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(eventId)));

    /// <summary>One track call as UTF-8 JSON; if it would pass the per-event cap, the free-form parts give way to a marker.</summary>
    public static byte[] Serialize(AuditEvent e)
    {
        var full = Write(e, includeDetail: true);
        return full.Length <= MaxCallBytes ? full : Write(e, includeDetail: false);
    }

    /// <summary>
    /// Groups serialized calls, in order, into batch bodies of fewer than <see cref="MaxBatchBytes"/>
    /// bytes and at most <see cref="MaxBatchCalls"/> calls. The body is written as it grows and its
    /// real length decides, separators and envelope included: an estimate is how bodies of
    /// 504,588 bytes went out once.
    /// </summary>
    public static IEnumerable<(byte[] Body, int Calls)> Batches(IEnumerable<byte[]> calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        var body = new MemoryStream();
        body.Write(BatchHead);
        var count = 0;
        foreach (var call in calls)
        {
            if (count > 0 && (count == MaxBatchCalls || body.Length + 1 + call.Length + BatchTail.Length >= MaxBatchBytes))
            {
                yield return (Finish(body), count);
                body = new MemoryStream();
                body.Write(BatchHead);
                count = 0;
            }
            if (count > 0)
            {
                body.WriteByte((byte)',');
            }
            body.Write(call);
            count++;
        }
        if (count > 0)
        {
            yield return (Finish(body), count);
        }
    }

    private static byte[] Finish(MemoryStream body)
    {
        body.Write(BatchTail);
        return body.ToArray();
    }

    private static byte[] Write(AuditEvent e, bool includeDetail)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.Relaxed))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "track");
            writer.WriteString("event", e.Type);
            writer.WriteString("messageId", MessageId(e.Id));
            writer.WriteString("timestamp", Iso8601.Format(e.Timestamp, stackalloc char[Iso8601.FormattedLength]));
            if (e.Actor.Type == ActorTypes.User)
            {
                writer.WriteString("userId", e.Actor.Id);
            }
            else
            {
                writer.WriteString("anonymousId", $"{e.Actor.Type}:{e.Actor.Id}");
            }
            writer.WriteStartObject("properties");
            writer.WriteString("auditEventId", e.Id);
            writer.WriteString("workspaceId", e.WorkspaceId);
            writer.WriteString("productArea", e.ProductArea);
            writer.WriteString("actorType", e.Actor.Type);
            writer.WriteString("actorId", e.Actor.Id);
            Optional(writer, "actorName", e.Actor.Name);
            Optional(writer, "actorEmail", e.Actor.Email);
            writer.WriteString("resourceType", e.Resource.Type);
            writer.WriteString("resourceId", e.Resource.Id);
            Optional(writer, "resourceName", e.Resource.Name);
            Optional(writer, "ip", e.Context?.Ip);
            Optional(writer, "userAgent", e.Context?.UserAgent);
            Optional(writer, "requestId", e.Context?.RequestId);
            // So the source can tell the trail's own records (a revocation, a digest) from a producer's events.
            Optional(writer, "source", e.Source);
            if (includeDetail)
            {
                if (e.Changes is not null)
                {
                    AuditEventJson.WriteRaw(writer, "changes", e.Changes);
                }
                if (e.Properties is not null)
                {
                    AuditEventJson.WriteRaw(writer, "details", e.Properties);
                }
            }
            else
            {
                // Still forwarded, so alerts fire; the full record is in the trail.
                writer.WriteBoolean("truncated", true);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void Optional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}

/// <summary>
/// The FAQ's transient failures: an audience or computed-trait run or sync that fails is retried
/// up to 5 times before it counts as failed. With <c>suppressTransientFailures</c> on, such a
/// failure event is stored but not forwarded unless it is final. An event is final when its
/// properties say so — <c>final: true</c>, or <c>attempt</c> ≥ <c>maxAttempts</c> (default 5) —
/// or when they say nothing about attempts: a failure is never hidden on a guess.
/// </summary>
public static class TransientFailures
{
    public const int DefaultMaxAttempts = 5;

    public static IReadOnlySet<string> RetriedTypes { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Audience Run Failed",
        "Audience Destination Sync Failed",
        "Computed Trait Run Failed",
        "Computed Trait Destination Sync Failed",
    };

    /// <summary>True when the event is a failure that will still be retried, so suppression holds it back.</summary>
    public static bool WillBeRetried(AuditEvent e)
    {
        if (!RetriedTypes.Contains(e.Type) || e.Properties is null)
        {
            return false;
        }
        using var doc = JsonDocument.Parse(e.Properties);
        var p = doc.RootElement;
        if (p.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (p.TryGetProperty("final", out var final) && final.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return final.ValueKind == JsonValueKind.False;
        }
        if (!p.TryGetProperty("attempt", out var attempt) || !attempt.TryGetInt32(out var tried))
        {
            return false;
        }
        var max = p.TryGetProperty("maxAttempts", out var m) && m.TryGetInt32(out var declared) && declared > 0 ? declared : DefaultMaxAttempts;
        return tried < max;
    }
}
