using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Events;
using Azure.Data.Tables;

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
        var writer = t_hashWriter ??= new Utf8JsonWriter(buffer, AuditTrail.Core.Events.JsonDefaults.Relaxed);
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

    /// <summary>The primary row first, then the actor, type and resource index rows; all in one partition, all with the same properties.</summary>
    public static EventRow[] Create(AuditEvent e, string contentHash, DateTimeOffset receivedAt, string door)
    {
        var pk = PartitionKey(e);
        var suffix = TrailKeys.EventSuffix(e.Timestamp, e.Id);
        // The stored layout (docs/architecture.md): names, order and EDM types must not move, or a
        // replay of an event stored before would no longer read back as the same event.
        var properties = new KeyValuePair<string, object>[21];
        var count = 0;
        Add(properties, ref count, "EventId", e.Id);
        Add(properties, ref count, "WorkspaceId", e.WorkspaceId);
        Add(properties, ref count, "Type", e.Type);
        Add(properties, ref count, "ProductArea", e.ProductArea);
        Add(properties, ref count, "Cataloged", e.Cataloged);
        Add(properties, ref count, "EventTime", e.Timestamp.ToUniversalTime());
        Add(properties, ref count, "ActorType", e.Actor.Type);
        Add(properties, ref count, "ActorId", e.Actor.Id);
        Add(properties, ref count, "ActorName", e.Actor.Name);
        Add(properties, ref count, "ActorEmail", e.Actor.Email);
        Add(properties, ref count, "ResourceType", e.Resource.Type);
        Add(properties, ref count, "ResourceId", e.Resource.Id);
        Add(properties, ref count, "ResourceName", e.Resource.Name);
        Add(properties, ref count, "Ip", e.Context?.Ip);
        Add(properties, ref count, "UserAgent", e.Context?.UserAgent);
        Add(properties, ref count, "RequestId", e.Context?.RequestId);
        Add(properties, ref count, "Changes", e.Changes);
        Add(properties, ref count, "Properties", e.Properties);
        Add(properties, ref count, "ContentHash", contentHash);
        Add(properties, ref count, "ReceivedAt", receivedAt.ToUniversalTime());
        Add(properties, ref count, "Door", door);
        var shared = new EventRowProperties(new ArraySegment<KeyValuePair<string, object>>(properties, 0, count));
        return
        [
            new EventRow(pk, TrailKeys.PrimaryPrefix + suffix, shared),
            new EventRow(pk, TrailKeys.ActorRowKey(e.Actor.Id, suffix), shared),
            new EventRow(pk, TrailKeys.TypeRowKey(e.Type, suffix), shared),
            new EventRow(pk, TrailKeys.ResourceRowKey(e.Resource.Type, e.Resource.Id, suffix), shared),
        ];
    }

    /// <summary>Table Storage keeps no nulls, so a property without a value is left out.</summary>
    private static void Add(KeyValuePair<string, object>[] properties, ref int count, string name, object? value)
    {
        if (value is not null)
        {
            properties[count++] = new(name, value);
        }
    }

    public static AuditEvent ToEvent(TableEntity row)
    {
        string S(string name) => row.GetString(name) ?? string.Empty;
        var context = row.GetString("Ip") is null && row.GetString("UserAgent") is null && row.GetString("RequestId") is null
            ? null
            : new AuditContext(row.GetString("Ip"), row.GetString("UserAgent"), row.GetString("RequestId"));
        return new AuditEvent(
            S("EventId"), S("WorkspaceId"), S("Type"), S("ProductArea"), row.GetBoolean("Cataloged") ?? true,
            row.GetDateTimeOffset("EventTime")?.ToUniversalTime() ?? default,
            new AuditActor(S("ActorType"), S("ActorId"), row.GetString("ActorName"), row.GetString("ActorEmail")),
            new AuditResource(S("ResourceType"), S("ResourceId"), row.GetString("ResourceName")),
            context, row.GetString("Changes"), row.GetString("Properties"), EventSources.FromDoor(row.GetString("Door")));
    }
}
