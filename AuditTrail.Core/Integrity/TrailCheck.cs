using System.Collections.Concurrent;
using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using AuditTrail.Core.Storage;
using Azure.Data.Tables;

namespace AuditTrail.Core.Integrity;

/// <summary>What the trail check found: the event findings by kind, and the counts of the report.</summary>
internal sealed record TrailFindings(
    List<EventFinding> Modified, List<EventFinding> Misplaced, List<EventFinding> Missing, List<EventFinding> Unrecorded, long Events, long Pending, long Purged);

/// <summary>
/// The third check of verification: the trail's rows against the ledger. Reads every partition an
/// entry names and every day the workspace registered in reach of the range, once; then each
/// recorded event is recomputed from its rows (modified, misplaced, missing, or purged as a
/// digest or pending purge says), and rows received in the range that no entry records are
/// unrecorded, unless their ingest may still be recording them or a replay recorded them later.
/// </summary>
internal sealed class TrailCheck(IntegrityStore integrity, TrailTables trail)
{
    private const int Parallelism = 8;

    public async Task<TrailFindings> RunAsync(string workspaceId, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now,
        List<LedgerEntry> entries, List<ChainedDigest> covering, DateTimeOffset? lastEnd, CancellationToken cancellationToken)
    {
        var purgedDays = covering.SelectMany(d => d.Payload.PurgedDays).Select(d => d.Replace("-", "", StringComparison.Ordinal))
            .Concat(await integrity.Digests.PurgedDaysAsync(workspaceId, cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        var groups = await ReadTrailAsync(await PartitionsAsync(workspaceId, start, end, entries, cancellationToken), cancellationToken);
        var checks = CheckRecorded(entries, groups, lastEnd, purgedDays);
        var (unrecorded, receiving) = await FindUnrecordedAsync(workspaceId, start, end, now, entries, groups, cancellationToken);
        return checks with { Unrecorded = unrecorded, Pending = checks.Pending + receiving };
    }

    /// <summary>Every partition an entry names, and every day the workspace registered in reach of the range.</summary>
    private async Task<List<string>> PartitionsAsync(string workspaceId, DateTimeOffset start, DateTimeOffset end, List<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        var firstDay = DayKeys.Day(start - TimeSpan.FromDays(EventLimits.RetentionDays + 1));
        var lastDay = DayKeys.Day(end + TimeSpan.FromDays(1));
        return (await trail.Days.ListAsync(workspaceId, firstDay, lastDay, cancellationToken))
            .Select(day => TrailKeys.PartitionKey(workspaceId, day))
            .Concat(entries.Select(x => x.EventPartition).Where(p => p.StartsWith(workspaceId + "_", StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Every row of these partitions, by event id: the reads verification makes of the trail, once each.</summary>
    private async Task<ConcurrentDictionary<string, List<TrailRow>>> ReadTrailAsync(List<string> partitions, CancellationToken cancellationToken)
    {
        var groups = new ConcurrentDictionary<string, List<TrailRow>>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(partitions, Options(cancellationToken), async (partition, ct) =>
        {
            await foreach (var row in trail.Events.PartitionAsync(partition, ct))
            {
                var id = EventRows.EventId(row) ?? "(no id) " + row.PartitionKey + "/" + row.RowKey;
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

    /// <summary>Each recorded event against its rows: modified (contents), misplaced (keys), missing (rows gone), or purged as recorded.</summary>
    private static TrailFindings CheckRecorded(List<LedgerEntry> entries, ConcurrentDictionary<string, List<TrailRow>> groups, DateTimeOffset? lastEnd, HashSet<string> purgedDays)
    {
        var checks = new TrailFindings([], [], [], [], 0, 0, 0);
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
        string workspaceId, DateTimeOffset s, DateTimeOffset e, DateTimeOffset now, List<LedgerEntry> entries, ConcurrentDictionary<string, List<TrailRow>> groups, CancellationToken cancellationToken)
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

    /// <summary>Whether the event's claim points at a ledger entry with this row hash (recorded outside the range read).</summary>
    private async Task<bool> RecordedElsewhereAsync(string workspaceId, string eventId, string hash, CancellationToken cancellationToken)
    {
        var claim = await trail.Claims.FindAsync(workspaceId, eventId, cancellationToken);
        if (claim?.Marks.GetValueOrDefault(IntegrityLedger.ClaimMarkColumn) is not { } partition)
        {
            return false;
        }
        var entry = await integrity.Ledger.FindAsync(partition, eventId, cancellationToken);
        return entry?.RowHash == hash && entry.WorkspaceId == workspaceId;
    }

    private static ParallelOptions Options(CancellationToken cancellationToken) => new() { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken };
}
