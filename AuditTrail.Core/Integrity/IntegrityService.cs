using System.Collections.Concurrent;
using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// The owner's view of the integrity trail: the digests of a range, and verification — every
/// covered event recomputed from the trail's rows and compared with the ledger, the ledger with
/// the digests' Merkle roots, the digests with their signatures and their chain (docs/integrity.md).
/// Ranges are of ingestion time (when events were recorded), the time digests are sealed by.
/// </summary>
public sealed class IntegrityService(IntegrityStore integrity, TrailStore trail, IntegrityKeys keys, TimeProvider time, ILogger<IntegrityService> logger)
{
    /// <summary>Most findings listed per kind; the report says when there were more.</summary>
    public const int MaxFindings = 1000;

    /// <summary>Longest range one call covers: the retention period and the digests' own keeping.</summary>
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(2 * (EventLimits.RetentionDays + 1));

    private const int Parallelism = 8;

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
        var rows = await DigestRowsAsync(workspaceId, cancellationToken);
        var list = rows.Values.Select(Summary).Where(d => d.End > s && d.Start < e).OrderBy(d => d.Sequence).ToList();
        var last = rows.Count == 0 ? null : (DateTimeOffset?)rows.Values.Max(r => DigestPayload.ParseTime(r.GetString("SealedAt")!));
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

    public async Task<VerificationReport> VerifyAsync(string workspaceId, DateTimeOffset? start, DateTimeOffset? end, CancellationToken cancellationToken = default)
    {
        var (s, e) = Range(start, end);
        await Task.WhenAll(integrity.EnsureCreatedAsync(cancellationToken), trail.EnsureCreatedAsync(cancellationToken));
        var now = time.GetUtcNow();
        var problems = new List<DigestFinding>();
        var keySet = await keys.TrustedAsync(cancellationToken);

        // The digests: the immutable blobs are the record; the table is their index.
        var tableRows = await DigestRowsAsync(workspaceId, cancellationToken);
        var digests = await ReadDigestsAsync(workspaceId, keySet, tableRows, problems, cancellationToken);
        foreach (var sequence in tableRows.Keys.Where(q => !digests.Any(d => d.Sequence == q)).Order())
        {
            problems.Add(new DigestFinding(sequence, "digest_missing", $"Digest {sequence} is in the table but its blob {IntegrityStore.DigestBlobName(workspaceId, sequence)} is gone."));
        }
        CheckChain(digests, problems);

        var lastEnd = digests.Count == 0 ? (DateTimeOffset?)null : DigestPayload.ParseTime(digests[^1].Payload.End);
        var lastSealedAt = digests.Count == 0 ? (DateTimeOffset?)null : digests.Max(d => DigestPayload.ParseTime(d.Payload.SealedAt));
        var relevant = digests.Where(d => DigestPayload.ParseTime(d.Payload.End) > s && DigestPayload.ParseTime(d.Payload.Start) < e).ToList();
        var ledgerFrom = relevant.Select(d => DigestPayload.ParseTime(d.Payload.Start)).Append(s).Min();
        var ledgerTo = relevant.Select(d => DigestPayload.ParseTime(d.Payload.End)).Append(e).Max();

        var entries = await integrity.Ledger.QueryAsync<TableEntity>(TableClient.CreateQueryFilter(
                $"PartitionKey ge {IntegrityStore.LedgerPartition(workspaceId, ledgerFrom)} and PartitionKey le {IntegrityStore.LedgerPartition(workspaceId, ledgerTo)} and WorkspaceId eq {workspaceId} and RecordedAt ge {ledgerFrom} and RecordedAt lt {ledgerTo}"),
                cancellationToken: cancellationToken)
            .Select(r => new Entry(r.GetString("EventId") ?? string.Empty, r.GetString("RowHash") ?? string.Empty, r.GetDateTimeOffset("RecordedAt") ?? default,
                r.GetString("EventPartition") ?? string.Empty, r.GetString("EventRow") ?? string.Empty))
            .ToListAsync(cancellationToken);
        foreach (var (sequence, payload, _) in relevant)
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
        var state = await integrity.Digests.FindAsync(IntegrityStore.StatePartition, "sealer", cancellationToken);
        // A state from ahead of this clock says nothing about what this clock's sealer has done.
        if (state?.GetDateTimeOffset("SealedThrough") is { } sealedThrough && sealedThrough <= now
            && entries.Count(x => x.RecordedAt < sealedThrough && (lastEnd is null || x.RecordedAt >= lastEnd)) is var unsealed and > 0)
        {
            problems.Add(new DigestFinding(null, "digest_missing",
                $"{unsealed} ledger entries recorded before {DigestPayload.Time(sealedThrough)}, when every workspace was last sealed, are in no digest: the digest after {(digests.Count == 0 ? "none" : digests[^1].Sequence.ToString(CultureInfo.InvariantCulture))} is gone."));
        }

        // The trail: every partition an entry names, and every day the workspace registered in reach of the range.
        var purgedDays = relevant.SelectMany(d => d.Payload.PurgedDays).Select(d => d.Replace("-", "", StringComparison.Ordinal))
            .Concat(await integrity.Digests.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge 'p' and RowKey lt 'q'"), select: ["RowKey"], cancellationToken: cancellationToken)
                .Select(r => r.RowKey[1..]).ToListAsync(cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        var firstDay = (s - TimeSpan.FromDays(EventLimits.RetentionDays + 1)).UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var lastDay = (e + TimeSpan.FromDays(1)).UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var partitions = (await trail.WorkspaceDays.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge {firstDay} and RowKey le {lastDay}"), select: ["RowKey"], cancellationToken: cancellationToken)
                .Select(r => TrailKeys.PartitionKey(workspaceId, DateOnly.ParseExact(r.RowKey, "yyyyMMdd", CultureInfo.InvariantCulture))).ToListAsync(cancellationToken))
            .Concat(entries.Select(x => x.EventPartition).Where(p => p.StartsWith(workspaceId + "_", StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal).ToList();
        var groups = await ReadTrailAsync(partitions, cancellationToken);
        var checks = CheckRecorded(entries, groups, lastEnd, purgedDays);
        var (modified, misplaced, missing) = (checks.Modified, checks.Misplaced, checks.Missing);
        var (unrecorded, receiving) = await FindUnrecordedAsync(workspaceId, s, e, now, entries, groups, cancellationToken);
        var (events, pending, purged) = (checks.Events, checks.Pending + receiving, checks.Purged);

        var lists = new[] { modified, misplaced, missing, unrecorded };
        var truncated = lists.Any(l => l.Count > MaxFindings) || problems.Count > MaxFindings;
        var intact = lists.All(l => l.Count == 0) && problems.Count == 0;
        logger.LogInformation("Verified {WorkspaceId} from {Start:o} to {End:o}: {Events} events, {Digests} digests; intact {Intact} ({Modified} modified, {Misplaced} misplaced, {Missing} missing, {Unrecorded} unrecorded, {Problems} digest problems)",
            workspaceId, s, e, events, relevant.Count, intact, modified.Count, misplaced.Count, missing.Count, unrecorded.Count, problems.Count);
        return new VerificationReport(workspaceId, s, e, intact, lastSealedAt, lastEnd, relevant.Count, events, pending, purged,
            modified.Take(MaxFindings).ToList(), misplaced.Take(MaxFindings).ToList(), missing.Take(MaxFindings).ToList(), unrecorded.Take(MaxFindings).ToList(), problems.Take(MaxFindings).ToList(), truncated);
    }

    /// <summary>
    /// Every digest blob of the workspace, one per sequence: the lowest slot that is a trusted digest
    /// of that workspace and sequence, else the lowest slot with what is wrong with it (bad_signature,
    /// unknown_key, misplaced_digest: then left out of the chain). Every other blob claiming the
    /// sequence is a <c>digest_conflict</c>: one a storage writer planted, which the sealer did not adopt.
    /// </summary>
    private async Task<List<(long Sequence, DigestPayload Payload, string Jws)>> ReadDigestsAsync(
        string workspaceId, Dictionary<string, JsonWebKey> keySet, Dictionary<long, TableEntity> tableRows, List<DigestFinding> problems, CancellationToken cancellationToken)
    {
        var blobNames = await integrity.DigestBlobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, workspaceId + "/", cancellationToken).Select(b => b.Name).ToListAsync(cancellationToken);
        var texts = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(blobNames, Options(cancellationToken), async (name, ct) =>
            texts[name] = (await integrity.DigestBlobs.GetBlobClient(name).DownloadContentAsync(ct)).Value.Content.ToString());
        var slots = new SortedDictionary<long, List<(int Slot, string Name)>>();
        foreach (var name in blobNames)
        {
            if (!IntegrityStore.TryParseDigestBlobName(name, out var sequence, out var slot))
            {
                problems.Add(new DigestFinding(null, "unreadable_digest", $"Blob {name} is not a digest."));
                continue;
            }
            (slots.TryGetValue(sequence, out var list) ? list : slots[sequence] = []).Add((slot, name));
        }
        var digests = new List<(long Sequence, DigestPayload Payload, string Jws)>();
        foreach (var (sequence, candidates) in slots)
        {
            candidates.Sort((a, b) => a.Slot.CompareTo(b.Slot));
            // As the sealer adopts: trusted, and the next link after the digest before it (when there is one).
            var previous = digests.Count > 0 && digests[^1].Sequence == sequence - 1 ? digests[^1] : default;
            var trusted = candidates.Where(c => DigestTrust.Problem(texts[c.Name], keySet, workspaceId, sequence) is null).ToList();
            var chosen = trusted.FirstOrDefault(c => previous.Jws is null || Links(texts[c.Name], previous.Payload, previous.Jws));
            chosen = chosen.Name is not null ? chosen : trusted.Count > 0 ? trusted[0] : candidates[0];
            foreach (var (_, other) in candidates.Where(c => c.Name != chosen.Name))
            {
                var why = DigestTrust.Problem(texts[other], keySet, workspaceId, sequence) ?? "it is not the next link of the chain";
                problems.Add(new DigestFinding(sequence, "digest_conflict", $"Blob {other} claims digest {sequence}, but {why}; digest {sequence} is blob {chosen.Name}."));
            }
            if (CheckDigestBlob(workspaceId, sequence, chosen.Name, texts[chosen.Name], keySet, tableRows, problems) is { } payload)
            {
                digests.Add((sequence, payload, texts[chosen.Name]));
            }
        }
        return digests;
    }

    /// <summary>Whether the digest names the previous one's hash and starts where it ended.</summary>
    private static bool Links(string jws, DigestPayload previous, string previousJws) =>
        DigestJws.Read(jws) is { } read && read.Payload.PreviousDigest == DigestJws.Hash(previousJws) && read.Payload.Start == previous.End;

    /// <summary>One sequence's digest checked against the key set, its place and its table row; its payload, or null when it is not a digest of this place.</summary>
    private static DigestPayload? CheckDigestBlob(string workspaceId, long sequence, string name, string text, Dictionary<string, JsonWebKey> keySet, Dictionary<long, TableEntity> tableRows, List<DigestFinding> problems)
    {
        if (DigestJws.Read(text) is not { } read)
        {
            problems.Add(new DigestFinding(sequence, "unreadable_digest", $"Blob {name} is not a digest."));
            return null;
        }
        var (header, payload) = read;
        if (!keySet.TryGetValue(header.Kid, out var key))
        {
            problems.Add(new DigestFinding(sequence, "unknown_key", $"Digest {sequence} names key '{header.Kid}', which is not in the key set."));
        }
        else if (header.Alg != "ES256" || !DigestJws.Verify(text, key))
        {
            problems.Add(new DigestFinding(sequence, "bad_signature", $"Digest {sequence}'s signature does not verify with key '{header.Kid}'."));
        }
        if (payload.WorkspaceId != workspaceId || payload.Sequence != sequence)
        {
            problems.Add(new DigestFinding(sequence, "misplaced_digest", $"Blob {name} holds digest {payload.Sequence} of workspace '{payload.WorkspaceId}'."));
            return null;
        }
        if (tableRows.TryGetValue(sequence, out var row) && row.GetString("Jws") != text)
        {
            problems.Add(new DigestFinding(sequence, "digest_differs", $"Digest {sequence}'s blob and its table row differ."));
        }
        return payload;
    }

    /// <summary>Every row of these partitions, by event id: the reads verification makes of the trail, once each.</summary>
    private async Task<ConcurrentDictionary<string, List<TrailRow>>> ReadTrailAsync(List<string> partitions, CancellationToken cancellationToken)
    {
        var groups = new ConcurrentDictionary<string, List<TrailRow>>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(partitions, Options(cancellationToken), async (partition, ct) =>
        {
            await foreach (var row in trail.Events.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), maxPerPage: 1000, cancellationToken: ct))
            {
                var id = row.GetString("EventId") ?? "(no id) " + row.PartitionKey + "/" + row.RowKey;
                var list = groups.GetOrAdd(id, _ => []);
                var read = TrailRow.Of(row);
                lock (list)
                {
                    list.Add(read);
                }
            }
        });
        return groups;
    }

    private sealed record RecordedChecks(List<EventFinding> Modified, List<EventFinding> Misplaced, List<EventFinding> Missing, long Events, long Pending, long Purged);

    /// <summary>Each recorded event against its rows: modified (contents), misplaced (keys), missing (rows gone), or purged as recorded.</summary>
    private static RecordedChecks CheckRecorded(List<Entry> entries, ConcurrentDictionary<string, List<TrailRow>> groups, DateTimeOffset? lastEnd, HashSet<string> purgedDays)
    {
        var checks = new RecordedChecks([], [], [], 0, 0, 0);
        long events = 0, pending = 0, purged = 0;
        foreach (var recorded in entries.GroupBy(x => x.EventId, StringComparer.Ordinal))
        {
            events++;
            var entry = recorded.First();
            if (lastEnd is null || entry.RecordedAt >= lastEnd)
            {
                pending++;
            }
            if (!groups.TryGetValue(recorded.Key, out var rows))
            {
                if (entry.EventPartition.Length > 8 && purgedDays.Contains(entry.EventPartition[^8..]))
                {
                    purged++;
                }
                else
                {
                    checks.Missing.Add(new EventFinding(recorded.Key, $"Recorded {DigestPayload.Time(entry.RecordedAt)}; no row of it is in the trail."));
                }
                continue;
            }
            var hashes = recorded.Select(x => x.RowHash).ToHashSet(StringComparer.Ordinal);
            var content = hashes.Count > 1 ? "The ledger records it with different contents."
                : rows.FirstOrDefault(r => !hashes.Contains(r.Hash)) is { RowKey: { } changed } ? $"Row {changed} differs from what was recorded."
                : null;
            var finding = content is not null ? (EventVerdict.Modified, content) : RowPlacement.Check(rows);
            if (finding is var (verdict, detail))
            {
                (verdict switch { EventVerdict.Modified => checks.Modified, EventVerdict.Misplaced => checks.Misplaced, _ => checks.Missing })
                    .Add(new EventFinding(recorded.Key, detail));
            }
        }
        return checks with { Events = events, Pending = pending, Purged = purged };
    }

    /// <summary>Rows received in the range that no ledger entry records (and the count still within reach of their ingest).</summary>
    private async Task<(List<EventFinding> Unrecorded, long Receiving)> FindUnrecordedAsync(
        string workspaceId, DateTimeOffset s, DateTimeOffset e, DateTimeOffset now, List<Entry> entries, ConcurrentDictionary<string, List<TrailRow>> groups, CancellationToken cancellationToken)
    {
        var unrecorded = new List<EventFinding>();
        long receiving = 0;
        var recordedIds = entries.Select(x => x.EventId).ToHashSet(StringComparer.Ordinal);
        foreach (var (id, rows) in groups.Where(g => !recordedIds.Contains(g.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var receivedAt = rows.Select(r => r.ReceivedAt).FirstOrDefault(r => r is not null);
            if (receivedAt is { } at && (at < s || at >= e))
            {
                continue; // received outside the range: its own range's verification covers it
            }
            if (receivedAt > now - IngestionService.OrphanAfter)
            {
                receiving++; // its ingest may still be recording it
                continue;
            }
            if (await RecordedElsewhereAsync(workspaceId, id, rows[0].Hash, cancellationToken))
            {
                continue; // a replay recorded it after the range
            }
            unrecorded.Add(new EventFinding(id, receivedAt is { } r ? $"Received {DigestPayload.Time(r)}; in the trail, in no digest." : "In the trail without a receive time, in no digest."));
        }
        return (unrecorded, receiving);
    }

    private static void CheckChain(List<(long Sequence, DigestPayload Payload, string Jws)> digests, List<DigestFinding> problems)
    {
        digests.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        for (var i = 0; i < digests.Count; i++)
        {
            var (sequence, payload, _) = digests[i];
            var expected = i == 0 ? 0 : digests[i - 1].Sequence + 1;
            if (sequence != expected)
            {
                problems.Add(new DigestFinding(expected, "chain_break", $"Digest {expected} is missing{(sequence - expected > 1 ? $" (up to {sequence - 1})" : "")}."));
                continue;
            }
            if (i == 0)
            {
                if (payload.PreviousDigest is not null)
                {
                    problems.Add(new DigestFinding(sequence, "chain_break", "The first digest names a previous digest."));
                }
                continue;
            }
            var previous = digests[i - 1];
            if (payload.PreviousDigest != DigestJws.Hash(previous.Jws))
            {
                problems.Add(new DigestFinding(sequence, "chain_break", $"Digest {sequence} does not name digest {previous.Sequence}'s hash as its previous."));
            }
            if (payload.Start != previous.Payload.End)
            {
                problems.Add(new DigestFinding(sequence, "chain_gap", $"Digest {sequence} starts at {payload.Start}, not where digest {previous.Sequence} ended ({previous.Payload.End})."));
            }
        }
    }

    /// <summary>Whether the event's claim points at a ledger entry with this row hash (recorded outside the range read).</summary>
    private async Task<bool> RecordedElsewhereAsync(string workspaceId, string eventId, string hash, CancellationToken cancellationToken)
    {
        var claim = await trail.EventIds.FindAsync(workspaceId, TrailKeys.Encode(eventId), cancellationToken);
        if (claim?.GetString("Ledger") is not { } partition)
        {
            return false;
        }
        var entry = await integrity.Ledger.FindAsync(partition, TrailKeys.Encode(eventId), cancellationToken);
        return entry?.GetString("RowHash") == hash && entry.GetString("WorkspaceId") == workspaceId;
    }

    private async Task<Dictionary<long, TableEntity>> DigestRowsAsync(string workspaceId, CancellationToken cancellationToken) =>
        await integrity.Digests.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge 'd' and RowKey lt 'e'"), cancellationToken: cancellationToken)
            .Where(r => long.TryParse(r.RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .ToDictionaryAsync(r => long.Parse(r.RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture), cancellationToken: cancellationToken);

    private static DigestSummary Summary(TableEntity r) => new(
        long.Parse(r.RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture),
        DigestPayload.ParseTime(r.GetString("Start")!), DigestPayload.ParseTime(r.GetString("End")!), r.GetInt64("Count") ?? 0,
        r.GetString("MerkleRoot") ?? string.Empty, r.GetString("PreviousDigest"), DigestPayload.ParseTime(r.GetString("SealedAt")!),
        r.GetString("Kid") ?? string.Empty, r.GetString("DigestHash") ?? string.Empty,
        IntegrityStore.DigestContainer + "/" + (r.GetString("Blob") ?? IntegrityStore.DigestBlobName(r.PartitionKey, long.Parse(r.RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture))),
        r.GetString("Jws") ?? string.Empty);

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

    private static ParallelOptions Options(CancellationToken cancellationToken) => new() { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken };

    private sealed record Entry(string EventId, string RowHash, DateTimeOffset RecordedAt, string EventPartition, string EventRow);
}
