using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// The owner's view of the integrity trail: the digests of a range, and verification — every
/// covered event recomputed from the trail's rows and compared with the ledger, the ledger with
/// the digests' Merkle roots, the digests with their signatures and their chain (docs/integrity.md).
/// Ranges are of ingestion time (when events were recorded), the time digests are sealed by.
/// </summary>
public sealed class IntegrityService(IntegrityStore integrity, TrailTables trail, IntegrityKeys keys, TimeProvider time, ILogger<IntegrityService> logger)
{
    private readonly ChainCheck _chainCheck = new(integrity, keys);
    private readonly LedgerCheck _ledgerCheck = new(integrity);
    private readonly TrailCheck _trailCheck = new(integrity, trail);

    /// <summary>Most findings listed per kind; the report says when there were more.</summary>
    public const int MaxFindings = 1000;

    /// <summary>Longest range one call covers: the retention period and the digests' own keeping.</summary>
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(2 * (EventLimits.RetentionDays + 1));

    public (DateTimeOffset Start, DateTimeOffset End) Range(DateTimeOffset? start, DateTimeOffset? end)
    {
        var now = time.GetUtcNow();
        var e = end ?? now;
        var s = start ?? e.AddDays(-(EventLimits.RetentionDays + 1));
        if (s >= e)
        {
            throw new IntegrityRangeException("'start' must be before 'end'.", "start");
        }
        if (e - s > MaxRange)
        {
            throw new IntegrityRangeException($"The range may span at most {MaxRange.TotalDays:0} days.", "start");
        }
        return (s, e);
    }

    public async Task<DigestList> ListDigestsAsync(string workspaceId, DateTimeOffset? start, DateTimeOffset? end, CancellationToken cancellationToken = default)
    {
        var (s, e) = Range(start, end);
        await integrity.EnsureCreatedAsync(cancellationToken);
        var rows = await integrity.Digests.ListAsync(workspaceId, cancellationToken);
        var list = rows.Values.Select(r => r.ToSummary()).Where(d => d.End > s && d.Start < e).OrderBy(d => d.Sequence).ToList();
        var last = rows.Count == 0 ? null : (DateTimeOffset?)rows.Values.Max(r => DigestPayload.ParseTime(r.SealedAt!));
        return new DigestList(workspaceId, s, e, last, list);
    }

    /// <summary>
    /// Whether the digest container has a time-based retention policy (true), has none (false), or
    /// could not be asked (null). Without one, anyone who can write the account can rewrite or delete
    /// digests. Whether the policy is locked is a management-plane fact the storage API does not show;
    /// docs/deploy.md locks it and checks.
    /// </summary>
    public async Task<bool?> DigestRetentionAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return (await integrity.DigestBlobs.GetPropertiesAsync(cancellationToken: cancellationToken)).Value.HasImmutabilityPolicy ?? false;
        }
        catch (Azure.RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not read the properties of container {Container}", IntegrityStore.DigestContainer);
            return null;
        }
    }

    /// <summary>
    /// Verifies the workspace's trail for events recorded in [start, end) with three checks, each
    /// going on from what the one before read: the digests as a signed chain (<see cref="ChainCheck"/>),
    /// the ledger against the digests covering the range (<see cref="LedgerCheck"/>), the trail's
    /// rows against the ledger (<see cref="TrailCheck"/>).
    /// </summary>
    public async Task<VerificationReport> VerifyAsync(string workspaceId, DateTimeOffset? start, DateTimeOffset? end, CancellationToken cancellationToken = default)
    {
        var (s, e) = Range(start, end);
        await Task.WhenAll(integrity.EnsureCreatedAsync(cancellationToken), trail.EnsureCreatedAsync(cancellationToken));
        var now = time.GetUtcNow();
        var chain = await _chainCheck.RunAsync(workspaceId, cancellationToken);
        var covering = chain.Covering(s, e);
        var ledger = await _ledgerCheck.RunAsync(workspaceId, s, e, now, chain, covering, cancellationToken);
        var rows = await _trailCheck.RunAsync(workspaceId, s, e, now, ledger.Entries, covering, chain.LastEnd, cancellationToken);
        return Report(workspaceId, s, e, chain, covering.Count, ledger.Problems, rows);
    }

    private VerificationReport Report(string workspaceId, DateTimeOffset s, DateTimeOffset e, DigestChain chain, int digests, List<DigestFinding> ledgerProblems, TrailFindings rows)
    {
        var problems = chain.Problems.Concat(ledgerProblems).ToList();
        var lists = new[] { rows.Modified, rows.Misplaced, rows.Missing, rows.Unrecorded };
        var truncated = lists.Any(l => l.Count > MaxFindings) || problems.Count > MaxFindings;
        var intact = lists.All(l => l.Count == 0) && problems.Count == 0;
        logger.LogInformation("Verified {WorkspaceId} from {Start:o} to {End:o}: {Events} events, {Digests} digests; intact {Intact} ({Modified} modified, {Misplaced} misplaced, {Missing} missing, {Unrecorded} unrecorded, {Problems} digest problems)",
            workspaceId, s, e, rows.Events, digests, intact, rows.Modified.Count, rows.Misplaced.Count, rows.Missing.Count, rows.Unrecorded.Count, problems.Count);
        return new VerificationReport(workspaceId, s, e, intact, chain.LastSealedAt, chain.LastEnd, digests, rows.Events, rows.Pending, rows.Purged,
            rows.Modified.Take(MaxFindings).ToList(), rows.Misplaced.Take(MaxFindings).ToList(), rows.Missing.Take(MaxFindings).ToList(),
            rows.Unrecorded.Take(MaxFindings).ToList(), problems.Take(MaxFindings).ToList(), truncated);
    }
}
