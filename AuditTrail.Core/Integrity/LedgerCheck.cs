using System.Globalization;

namespace AuditTrail.Core.Integrity;

/// <summary>A ledger entry as verification reads it.</summary>
/// <summary>The ledger entries verification read, and what is wrong between them and the digests.</summary>
internal sealed record LedgerFindings(List<LedgerEntry> Entries, List<DigestFinding> Problems);

/// <summary>
/// The second check of verification: the ledger against the digests. Every covering digest's
/// count and Merkle root are recomputed from the ledger entries of its interval
/// (<c>ledger_altered</c>), and entries recorded before the sealer's last complete run yet after
/// the last digest mean a digest is gone (<c>digest_missing</c>). Reads the ledger over the range
/// widened to the covering digests' intervals; the trail check goes on from these entries.
/// </summary>
internal sealed class LedgerCheck(IntegrityStore integrity)
{
    public async Task<LedgerFindings> RunAsync(string workspaceId, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now, DigestChain chain,
        List<ChainedDigest> covering, CancellationToken cancellationToken)
    {
        var problems = new List<DigestFinding>();
        var from = covering.Select(d => d.Start).Append(start).Min();
        var to = covering.Select(d => d.End).Append(end).Max();
        var entries = await integrity.Ledger.ReadAsync(workspaceId, from, to, leavesOnly: false, cancellationToken);
        foreach (var (sequence, payload, _) in covering)
        {
            var (ds, de) = (DigestPayload.ParseTime(payload.Start), DigestPayload.ParseTime(payload.End));
            var covered = entries.Where(x => x.RecordedAt >= ds && x.RecordedAt < de).ToList();
            var root = Convert.ToHexStringLower(MerkleTree.Root(covered.Select(x => new LedgerLeaf(x.EventId, HashBytes(x.RowHash)))));
            if (covered.Count != payload.Count || root != payload.MerkleRoot)
            {
                problems.Add(new DigestFinding(sequence, "ledger_altered",
                    $"The ledger holds {covered.Count} entries for digest {sequence}, which sealed {payload.Count}; their Merkle root {(root == payload.MerkleRoot ? "matches" : "differs")}."));
            }
        }
        if (await UnsealedAsync(entries, now, chain, cancellationToken) is { } unsealed)
        {
            problems.Add(unsealed);
        }
        return new LedgerFindings(entries, problems);
    }

    /// <summary>Entries the sealer's last complete run should have sealed that no digest covers: the digest after the last one is gone.</summary>
    private async Task<DigestFinding?> UnsealedAsync(List<LedgerEntry> entries, DateTimeOffset now, DigestChain chain, CancellationToken cancellationToken)
    {
        var state = await integrity.Digests.SealerStateAsync(cancellationToken);
        var lastEnd = chain.LastEnd;
        // A state from ahead of this clock says nothing about what this clock's sealer has done.
        if (state?.SealedThrough is { } sealedThrough && sealedThrough <= now
            && entries.Count(x => x.RecordedAt < sealedThrough && (lastEnd is null || x.RecordedAt >= lastEnd)) is var unsealed and > 0)
        {
            return new DigestFinding(null, "digest_missing",
                $"{unsealed} ledger entries recorded before {DigestPayload.Time(sealedThrough)}, when every workspace was last sealed, are in no digest: the digest after {(chain.Digests.Count == 0 ? "none" : chain.Digests[^1].Sequence.ToString(CultureInfo.InvariantCulture))} is gone.");
        }
        return null;
    }

    private static byte[] HashBytes(string hex)
    {
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return [];
        }
    }
}
