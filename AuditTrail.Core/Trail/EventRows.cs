using System.Security.Cryptography;
using System.Text.Json;
using AuditTrail.Core.Events;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>
/// The layout of <c>AuditEvents</c>' rows (docs/architecture.md, "Storage layout"): maps an event
/// to its four rows and back, and names the columns for whoever reads or filters rows. The only
/// code that spells a column of the table.
/// </summary>
public static class EventRows
{

    /// <summary>
    /// SHA-256 of the canonical JSON form of what the producer sent: equal for a replay, different
    /// for any edited field. What the catalog derives (product area, the type's spelling) is left
    /// out, so a catalog change between two deliveries cannot turn a replay into a conflict.
    /// </summary>
    public static string ContentHash(AuditEvent e)
    {
        // The thread's writer: this runs once per ingested event, on the hot path.
        using var json = ThreadJsonWriter.Rent<HashWriter>();
        AuditEventJson.WriteCanonical(json.Writer, e);
        json.Writer.Flush();
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(json.Buffer.WrittenSpan, hash);
        return Convert.ToHexString(hash);
    }

    private sealed class HashWriter : IThreadJsonWriterKind
    {
        public static JsonWriterOptions Options => JsonDefaults.Relaxed;

        public static int InitialCapacity => 4096;

        public static int KeepUpTo => 256 * 1024;
    }

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

    /// <summary>When the trail received the event (its forward lag starts there); null on a row without it.</summary>
    public static DateTimeOffset? ReceivedAt(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.GetDateTimeOffset("ReceivedAt");
    }

    /// <summary>What a purge reads of each row: its key, and the event id its claim is under.</summary>
    public static IReadOnlyList<string> IdColumns { get; } = ["RowKey", "EventId"];

    /// <summary>The door the row's event came in by (http, hub or the trail's own), or null on a row without one.</summary>
    public static string? Door(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.GetString("Door");
    }

    /// <summary>The stored event id, or null on a row without one.</summary>
    public static string? EventId(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.GetString("EventId");
    }

    /// <summary>
    /// What an event's keys are made of (<see cref="TrailKeys"/>), as a stored row's own properties
    /// hold them, or null when the row lacks one (no ingested row does): where the row belongs.
    /// </summary>
    public static (string WorkspaceId, string EventId, DateTimeOffset Time, string ActorId, string Type, string ResourceType, string ResourceId)? KeyValues(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.GetString("WorkspaceId") is not { } workspace || row.GetString("EventId") is not { } id || row.GetDateTimeOffset("EventTime") is not { } time
            || row.GetString("ActorId") is not { } actor || row.GetString("Type") is not { } type
            || row.GetString("ResourceType") is not { } resourceType || row.GetString("ResourceId") is not { } resourceId)
        {
            return null;
        }
        return (workspace, id, time, actor, type, resourceType, resourceId);
    }

    /// <summary>The columns <see cref="Facets(TableEntity)"/> reads: a view that only counts selects just these.</summary>
    public static IReadOnlyList<string> FacetColumns { get; } = ["EventTime", "Type", "ProductArea", "ActorId", "ActorType", "ResourceType", "ResourceId"];

    /// <summary>What a view filters on, from a row read whole or with <see cref="FacetColumns"/> only.</summary>
    public static EventFacets Facets(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new EventFacets(row.GetDateTimeOffset("EventTime"), row.GetString("Type"), row.GetString("ProductArea"),
            row.GetString("ActorId"), row.GetString("ActorType"), row.GetString("ResourceType"), row.GetString("ResourceId"));
    }

    /// <summary>
    /// An OData comparison of a facet's column with a caller's value, for a scan's server-side
    /// filter. The column name is the layout's; only the value comes from the caller, and it is quoted.
    /// </summary>
    public static string EqualsFilter(EventFacet facet, string value) =>
        Column(facet) + " eq " + TableClient.CreateQueryFilter($"{value}");

    private static string Column(EventFacet facet) => facet switch
    {
        EventFacet.Type => "Type",
        EventFacet.ProductArea => "ProductArea",
        EventFacet.ActorId => "ActorId",
        EventFacet.ActorType => "ActorType",
        EventFacet.ResourceType => "ResourceType",
        EventFacet.ResourceId => "ResourceId",
        _ => throw new ArgumentOutOfRangeException(nameof(facet), facet, null),
    };
}

/// <summary>The stored values a view can filter an event by.</summary>
public enum EventFacet
{
    Type,
    ProductArea,
    ActorId,
    ActorType,
    ResourceType,
    ResourceId,
}

/// <summary>An event's time and the values a view filters it by; a value a row lacks is null.</summary>
public readonly record struct EventFacets(
    DateTimeOffset? Time, string? Type, string? ProductArea, string? ActorId, string? ActorType, string? ResourceType, string? ResourceId)
{
    public static EventFacets Of(AuditEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(e.Timestamp, e.Type, e.ProductArea, e.Actor.Id, e.Actor.Type, e.Resource.Type, e.Resource.Id);
    }
}
