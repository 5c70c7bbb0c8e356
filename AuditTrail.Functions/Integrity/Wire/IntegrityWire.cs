using Sealing = AuditTrail.Core.Integrity;

namespace AuditTrail.Functions.Integrity.Wire;

// The integrity answers as the API writes them: the wire contract, mapped from Core's records so a
// change in Core is a change here only when it is meant to be one for clients too.

/// <summary>A public key as a JWK (RFC 7517): EC P-256, for ES256.</summary>
public sealed record JsonWebKey(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg);

/// <summary>The JWKS <c>GET /api/integrity/keys</c> serves.</summary>
public sealed record JsonWebKeySet(IReadOnlyList<JsonWebKey> Keys)
{
    public static JsonWebKeySet From(Sealing.JsonWebKeySet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        return new([.. set.Keys.Select(k => new JsonWebKey(k.Kty, k.Crv, k.X, k.Y, k.Kid, k.Use, k.Alg))]);
    }
}

/// <summary>One event verification found wrong, and how.</summary>
public sealed record EventFinding(string EventId, string Detail);

/// <summary>One digest verification found wrong (null sequence: a problem of the chain as a whole).</summary>
public sealed record DigestFinding(long? Sequence, string Code, string Detail);

/// <summary>A sealed digest as listed for its owner.</summary>
public sealed record DigestSummary(
    long Sequence, DateTimeOffset Start, DateTimeOffset End, long Count, string MerkleRoot, string? PreviousDigest,
    DateTimeOffset SealedAt, string Kid, string DigestHash, string Blob, string Jws);

/// <summary>A workspace's digests over a range of ingestion time.</summary>
public sealed record DigestList(string WorkspaceId, DateTimeOffset Start, DateTimeOffset End, DateTimeOffset? LastSealedAt, IReadOnlyList<DigestSummary> Digests)
{
    public static DigestList From(Sealing.DigestList list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return new(list.WorkspaceId, list.Start, list.End, list.LastSealedAt, [.. list.Digests.Select(d => new DigestSummary(
            d.Sequence, d.Start, d.End, d.Count, d.MerkleRoot, d.PreviousDigest, d.SealedAt, d.Kid, d.DigestHash, d.Blob, d.Jws))]);
    }
}

/// <summary>Whether the trail of a workspace, for events recorded in [start, end), is as its digests say (Core's <see cref="Sealing.VerificationReport"/>).</summary>
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
    bool Truncated)
{
    public static VerificationReport From(Sealing.VerificationReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.WorkspaceId, r.Start, r.End, r.Intact, r.LastSealedAt, r.SealedThrough, r.Digests, r.Events, r.Pending, r.Purged,
            Findings(r.Modified), Findings(r.Misplaced), Findings(r.Missing), Findings(r.Unrecorded),
            [.. r.DigestProblems.Select(d => new DigestFinding(d.Sequence, d.Code, d.Detail))], r.Truncated);
    }

    private static List<EventFinding> Findings(IReadOnlyList<Sealing.EventFinding> findings) => [.. findings.Select(f => new EventFinding(f.EventId, f.Detail))];
}
