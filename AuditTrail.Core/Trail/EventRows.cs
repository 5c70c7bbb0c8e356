using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;

namespace AuditTrail.Core.Trail;

/// <summary>Maps an event to its four rows and back.</summary>
public static class EventRows
{

    /// <summary>
    /// SHA-256 of the canonical JSON form of what the producer sent: equal for a replay, different
    /// for any edited field. What the catalog derives (product area, the type's spelling) is left
    /// out, so a catalog change between two deliveries cannot turn a replay into a conflict.
    /// </summary>
    public static string ContentHash(AuditEvent e)
    {
        // One buffer and writer per thread: this runs once per ingested event, on the hot path.
        var buffer = t_hashBuffer ??= new System.Buffers.ArrayBufferWriter<byte>(4096);
        var writer = t_hashWriter ??= new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        AuditEventJson.WriteCanonical(writer, e);
        writer.Flush();
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer.WrittenSpan, hash);
        if (buffer.Capacity > 256 * 1024)
        {
            t_hashBuffer = null; // do not keep a rare huge event's buffer alive on the thread
            t_hashWriter = null;
        }
        return Convert.ToHexString(hash);
    }

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_hashBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_hashWriter;

    public static string PartitionKey(AuditEvent e) => TrailKeys.PartitionKey(e.WorkspaceId, e.Timestamp);

    /// <summary>The primary row first, then the actor, type and resource index rows; all in one partition.</summary>
    public static TableEntity[] Create(AuditEvent e, string contentHash, DateTimeOffset receivedAt, string door)
    {
        var pk = PartitionKey(e);
        var suffix = TrailKeys.EventSuffix(e.Timestamp, e.Id);
        var primary = new TableEntity(pk, TrailKeys.PrimaryPrefix + suffix, capacity: 21)
        {
            ["EventId"] = e.Id,
            ["WorkspaceId"] = e.WorkspaceId,
            ["Type"] = e.Type,
            ["ProductArea"] = e.ProductArea,
            ["Cataloged"] = e.Cataloged,
            ["EventTime"] = e.Timestamp,
            ["ActorType"] = e.Actor.Type,
            ["ActorId"] = e.Actor.Id,
            ["ActorName"] = e.Actor.Name,
            ["ActorEmail"] = e.Actor.Email,
            ["ResourceType"] = e.Resource.Type,
            ["ResourceId"] = e.Resource.Id,
            ["ResourceName"] = e.Resource.Name,
            ["Ip"] = e.Context?.Ip,
            ["UserAgent"] = e.Context?.UserAgent,
            ["RequestId"] = e.Context?.RequestId,
            ["Changes"] = e.Changes,
            ["Properties"] = e.Properties,
            ["ContentHash"] = contentHash,
            ["ReceivedAt"] = receivedAt,
            ["Door"] = door,
        };
        // The index rows are the primary row under other keys: one property set for all four.
        return
        [
            primary,
            primary.WithKeys(pk, TrailKeys.ActorRowKey(e.Actor.Id, suffix)),
            primary.WithKeys(pk, TrailKeys.TypeRowKey(e.Type, suffix)),
            primary.WithKeys(pk, TrailKeys.ResourceRowKey(e.Resource.Type, e.Resource.Id, suffix)),
        ];
    }

    public static AuditEvent ToEvent(TableEntity row)
    {
        string S(string name) => row.GetString(name) ?? string.Empty;
        var context = row.GetString("Ip") is null && row.GetString("UserAgent") is null && row.GetString("RequestId") is null
            ? null
            : new AuditContext(row.GetString("Ip"), row.GetString("UserAgent"), row.GetString("RequestId"));
        return new AuditEvent(
            S("EventId"), S("WorkspaceId"), S("Type"), S("ProductArea"), row.GetBoolean("Cataloged") ?? true,
            row.GetDateTimeOffset("EventTime") ?? default,
            new AuditActor(S("ActorType"), S("ActorId"), row.GetString("ActorName"), row.GetString("ActorEmail")),
            new AuditResource(S("ResourceType"), S("ResourceId"), row.GetString("ResourceName")),
            context, row.GetString("Changes"), row.GetString("Properties"));
    }
}
