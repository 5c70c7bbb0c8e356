namespace AuditTrail.Core.Integrity;

/// <summary>One event verification found wrong, and how.</summary>
public sealed record EventFinding(string EventId, string Detail);

/// <summary>One digest verification found wrong (null sequence: a problem of the chain as a whole).</summary>
public sealed record DigestFinding(long? Sequence, string Code, string Detail);

/// <summary>A sealed digest as listed for its owner.</summary>
public sealed record DigestSummary(
    long Sequence, DateTimeOffset Start, DateTimeOffset End, long Count, string MerkleRoot, string? PreviousDigest,
    DateTimeOffset SealedAt, string Kid, string DigestHash, string Blob, string Jws);

public sealed record DigestList(string WorkspaceId, DateTimeOffset Start, DateTimeOffset End, DateTimeOffset? LastSealedAt, IReadOnlyList<DigestSummary> Digests);

/// <summary>
/// Whether the trail of a workspace, for events recorded in [start, end), is as its digests say.
/// <see cref="Intact"/> only when every list is empty. Events recorded after the last digest
/// (<see cref="Pending"/>) are checked against the ledger only; events on purged days are expected gone.
/// <see cref="Misplaced"/>: an event with a row whose keys are not the ones its properties give (a
/// rekeyed index row hides the event from a filter; a primary row moved to another day), or a row
/// too many; <see cref="Missing"/> also names an event one of whose four rows is gone.
/// </summary>
public sealed record VerificationReport(
    string WorkspaceId,
    DateTimeOffset Start,
    DateTimeOffset End,
    bool Intact,
    DateTimeOffset? LastSealedAt,
    DateTimeOffset? SealedThrough,
    int Digests,
    long Events,
    long Pending,
    long Purged,
    IReadOnlyList<EventFinding> Modified,
    IReadOnlyList<EventFinding> Misplaced,
    IReadOnlyList<EventFinding> Missing,
    IReadOnlyList<EventFinding> Unrecorded,
    IReadOnlyList<DigestFinding> DigestProblems,
    bool Truncated);

/// <summary>A verification or digest range the service cannot use.</summary>
public sealed class IntegrityRangeException : Exception
{
    public IntegrityRangeException(string message, string parameter) : base(message) => Parameter = parameter;

    public IntegrityRangeException() : this("Invalid range.", "start")
    {
    }

    public IntegrityRangeException(string message) : this(message, "start")
    {
    }

    public IntegrityRangeException(string message, Exception innerException) : base(message, innerException) => Parameter = "start";

    public const string Code = "invalid_range";

    public string Parameter { get; }
}
