namespace AuditTrail.Core.Events;

/// <summary>
/// Where an event came from, as readers see it: the door stored on its rows and claim at
/// ingestion (<c>IngestDoors</c>) under a public name. Derived from the stored door rather
/// than stored again, so every row ever written says where it came from, and nothing a producer
/// sends can set it (the reader refuses a <c>source</c> field as unknown).
/// </summary>
public static class EventSources
{
    /// <summary>Sent through Event Hubs (the <c>IngestAuditEvents</c> invocation).</summary>
    public const string Hub = "hub";

    /// <summary>Posted to <c>POST /api/workspaces/{ws}/audit-events</c> (or written by <c>seed-demo</c>, which uses that path).</summary>
    public const string Api = "api";

    /// <summary>Recorded by the trail itself about its own actions (tokens, exports, forwarding, digests).</summary>
    public const string Trail = "trail";

    public static IReadOnlyList<string> All { get; } = [Hub, Api, Trail];

    /// <summary>The source of a stored door; null for a row without one (none is known to exist: every version stored it).</summary>
    public static string? FromDoor(string? door) => door switch
    {
        // IngestDoors' values, spelled out: the client compiles this file without the ingestion code.
        "eventhub" => Hub,
        "http" => Api,
        "system" => Trail,
        _ => null,
    };
}
