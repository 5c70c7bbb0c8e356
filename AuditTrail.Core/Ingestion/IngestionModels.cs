namespace AuditTrail.Core.Ingestion;

/// <summary>The door an event came in by; recorded on every row and dead letter.</summary>
public static class IngestDoors
{
    public const string EventHub = "eventhub";
    public const string Http = "http";

    /// <summary>Events the app records about itself (token lifecycle, exports, settings).</summary>
    public const string System = "system";
}

/// <summary>Who is ingesting and how: the door, the workspace it is bound to (HTTP route), and a correlation id.</summary>
public sealed record IngestContext(string Door, string? WorkspaceId = null, string? InvocationId = null);

/// <summary>
/// What happened to a batch. Every input event is counted exactly once: accepted (stored now),
/// duplicate (already stored with identical content) or rejected (dead-lettered with a reason).
/// </summary>
public sealed record IngestResult(
    int Received,
    int Accepted,
    int Duplicates,
    IReadOnlyList<IngestRejection> Rejected,
    IReadOnlyList<string> UncatalogedTypes,
    string? DeadLetterBlob);
