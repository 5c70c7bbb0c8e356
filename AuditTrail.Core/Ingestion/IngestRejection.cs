namespace AuditTrail.Core.Ingestion;

/// <summary>Why an event was not stored. <see cref="Code"/> is stable and machine-readable.</summary>
public sealed record IngestRejection(int Index, string Code, string Reason, string? Field = null, string? EventId = null, string? WorkspaceId = null);

/// <summary>Stable rejection codes (documented in docs/architecture.md).</summary>
public static class RejectionCodes
{
    public const string InvalidJson = "invalid_json";
    public const string NotAnObject = "not_an_object";
    public const string EventTooLarge = "event_too_large";
    public const string MissingField = "missing_field";
    public const string EmptyField = "empty_field";
    public const string WrongType = "wrong_type";
    public const string TooLong = "too_long";
    public const string ControlCharacters = "control_characters";
    public const string InvalidString = "invalid_string";
    public const string UnknownField = "unknown_field";
    public const string DuplicateField = "duplicate_field";
    public const string InvalidWorkspaceId = "invalid_workspace_id";
    public const string WorkspaceMismatch = "workspace_mismatch";
    public const string InvalidActorType = "invalid_actor_type";
    public const string InvalidTimestamp = "invalid_timestamp";
    public const string TimestampInFuture = "timestamp_in_future";
    public const string OutsideRetention = "outside_retention";
    public const string InvalidIp = "invalid_ip";
    public const string InvalidChanges = "invalid_changes";
    public const string Conflict = "conflict";
    public const string MalformedInvocation = "malformed_invocation";
    public const string BatchFailed = "batch_failed";
    public const string StorageRejected = "storage_rejected";

    /// <summary>A type only the trail itself records (the catalog's <c>Audit Trail</c> area): a producer's copy would be a forgery.</summary>
    public const string ReservedType = "reserved_type";

    /// <summary>An id in the trail's own namespace (<c>TrailRecordIds.Prefix</c>, <c>~trail-</c>), so no producer can take a record's id first.</summary>
    public const string ReservedId = "reserved_id";
}
