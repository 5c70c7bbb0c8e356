using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Retention;

/// <summary>What a purge removed (or, in a dry run, would remove).</summary>
public sealed record PurgeReport(
    bool DryRun,
    DateOnly FirstKeptDay,
    IReadOnlyList<PurgedPartition> Partitions,
    long EventRows,
    long IdClaims,
    int DeadLetterBlobs,
    int ExportBlobs);

public sealed record PurgedPartition(string WorkspaceId, DateOnly Day, long EventRows, long IdClaims);

/// <summary>
/// Forgets everything older than the 90-day retention period. A UTC day is removed whole once
/// all of it lies before the retention instant, so the <b>first day kept</b> is the UTC date of
/// <c>now − 90 days</c> (<see cref="FirstKeptDay"/>); everything on or after it stays. Queries never
/// show events older than the instant itself, so the trail shows exactly 90 days and stores at
/// most one day more until the next run.
/// <para>
/// Expired workspace-days come from the <c>AuditPartitions</c> registry (a range read of that small
/// table, never a scan of the events). Per partition, in parallel within a bound: the id claims
/// and event rows are deleted 100 per transaction, then the registry rows — last, so a run cut
/// off midway leaves the partition registered and the next run finishes it. Deleting what is
/// already gone is not an error, so runs are idempotent; a run with nothing to do costs one
/// registry read and one dead-letter listing.
/// </para>
/// <para>
/// Each purged workspace-day is recorded for the integrity digests (before its registry rows go, so
/// a run cut off midway records it again): the next digest lists it, and verification then expects
/// that day's events to be gone rather than reporting them missing.
/// </para>
/// </summary>
public sealed class RetentionService(TrailStore store, BlobServiceClient blobs, TimeProvider time, ILogger<RetentionService> logger,
    AuditTrailTelemetry? telemetry = null, IntegrityStore? integrity = null)
{
    private const int Parallelism = 4;

    public static DateOnly FirstKeptDay(DateTimeOffset now) => DateOnly.FromDateTime(now.AddDays(-EventLimits.RetentionDays).UtcDateTime);

    public async Task<PurgeReport> PurgeAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var firstKept = FirstKeptDay(time.GetUtcNow());
        var firstKeptKey = firstKept.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

        var expired = await store.Partitions
            .QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey lt {firstKeptKey}"), select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Select(r => (Day: r.PartitionKey, Workspace: r.RowKey))
            .ToListAsync(cancellationToken);

        var purged = new System.Collections.Concurrent.ConcurrentBag<PurgedPartition>();
        await Parallel.ForEachAsync(expired, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            var result = await PurgePartitionAsync(p.Workspace, p.Day, dryRun, ct);
            purged.Add(result);
            logger.LogInformation("{Action} partition {WorkspaceId} {Day}: {EventRows} event rows, {IdClaims} id claims",
                dryRun ? "Would purge" : "Purged", p.Workspace, p.Day, result.EventRows, result.IdClaims);
        });

        var deadLetters = await PurgeDatedBlobsAsync(store.DeadLetters, firstKept, dryRun, cancellationToken);
        // Exports are kept a week (their links say so); whatever retention would remove goes in any case.
        var exports = blobs.GetBlobContainerClient(Export.ExportService.ContainerName);
        await exports.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        var exportBlobs = await PurgeDatedBlobsAsync(exports, DateOnly.FromDateTime(time.GetUtcNow().AddDays(-Export.ExportService.KeepDays).UtcDateTime), dryRun, cancellationToken);
        // Last: it reads whole claims partitions, and a run cut short by the host leaves the rest to the next one.
        long staleClaims = 0;
        await Parallel.ForEachAsync(expired.Select(p => p.Workspace).Distinct(StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (workspace, ct) =>
            Interlocked.Add(ref staleClaims, await PurgeStaleClaimsAsync(workspace, firstKept, dryRun, ct)));
        var report = new PurgeReport(dryRun, firstKept, purged.OrderBy(p => p.Day).ThenBy(p => p.WorkspaceId, StringComparer.Ordinal).ToList(),
            purged.Sum(p => p.EventRows), purged.Sum(p => p.IdClaims) + staleClaims, deadLetters, exportBlobs);
        if (!dryRun)
        {
            telemetry?.Purged(report.EventRows, report.IdClaims, report.DeadLetterBlobs, report.ExportBlobs);
        }
        logger.LogInformation("{Action} {Partitions} partitions before {FirstKeptDay}: {EventRows} event rows, {IdClaims} id claims, {DeadLetters} dead-letter blobs",
            dryRun ? "Dry run: would purge" : "Purged", report.Partitions.Count, firstKept, report.EventRows, report.IdClaims, deadLetters);
        return report;
    }

    private async Task<PurgedPartition> PurgePartitionAsync(string workspaceId, string day, bool dryRun, CancellationToken cancellationToken)
    {
        var date = DateOnly.ParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture);
        var partitionKey = TrailKeys.PartitionKey(workspaceId, date);
        long rows = 0, claims = 0;
        // Page by page: a day of a busy workspace does not have to fit in memory.
        await foreach (var page in store.Events.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), maxPerPage: 1000, select: ["RowKey", "EventId"], cancellationToken: cancellationToken).AsPages())
        {
            // Claims are found through the primary rows; each event has exactly one.
            var claimKeys = page.Values.Where(r => r.RowKey.StartsWith(TrailKeys.PrimaryPrefix, StringComparison.Ordinal) && r.GetString("EventId") is not null)
                .Select(r => TrailKeys.Encode(r.GetString("EventId")!)).ToList();
            rows += page.Values.Count;
            claims += claimKeys.Count;
            if (dryRun)
            {
                continue;
            }
            await DeleteAsync(store.EventIds, workspaceId, claimKeys, cancellationToken);
            await DeleteAsync(store.Events, partitionKey, page.Values.Select(r => r.RowKey).ToList(), cancellationToken);
        }
        if (!dryRun)
        {
            await RecordPurgeAsync(workspaceId, date, cancellationToken);
            await store.WorkspaceDays.DeleteEntityAsync(workspaceId, day, cancellationToken: cancellationToken);
            await store.Partitions.DeleteEntityAsync(day, workspaceId, cancellationToken: cancellationToken);
        }
        return new PurgedPartition(workspaceId, date, rows, claims);
    }

    private async Task RecordPurgeAsync(string workspaceId, DateOnly day, CancellationToken cancellationToken)
    {
        if (integrity is null)
        {
            return;
        }
        await integrity.EnsureCreatedAsync(cancellationToken);
        await integrity.Digests.RecordPurgeAsync(workspaceId, day, time.GetUtcNow(), cancellationToken);
    }

    /// <summary>
    /// Claims received before the day ahead of the first kept day, which the rows' purge did not
    /// find: claims whose rows were never written (their call failed and was never replayed).
    /// An event is at most 5 minutes ahead of its receipt, so such a claim's rows, if any, lay in
    /// a day already purged; nothing kept loses its claim. Run for the workspaces with a day
    /// purged now, which includes every workspace that claimed ids on that day (registered first).
    /// It reads the workspace's claims partition with a filter; only the keys come back.
    /// </summary>
    private async Task<long> PurgeStaleClaimsAsync(string workspaceId, DateOnly firstKept, bool dryRun, CancellationToken cancellationToken)
    {
        var cutoff = new DateTimeOffset(firstKept.AddDays(-1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        long count = 0;
        await foreach (var page in store.EventIds.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and ReceivedAt lt {cutoff}"), maxPerPage: 1000,
                           select: ["PartitionKey", "RowKey", "EventPartition", "EventRow"], cancellationToken: cancellationToken).AsPages())
        {
            if (!dryRun)
            {
                count += await DeleteUnchangedAsync(store.EventIds, page.Values, cancellationToken);
                continue;
            }
            // A dry run deleted no rows, so the claims of the rows it counted are still here: only
            // those without rows are this step's.
            foreach (var claim in page.Values)
            {
                if (await store.EventRowExistsAsync(claim, cancellationToken) != true)
                {
                    count++;
                }
            }
        }
        if (count > 0)
        {
            logger.LogWarning("{Action} {Claims} id claims of {WorkspaceId} received before {Cutoff} without rows (their ingest failed between claim and rows and was never replayed)",
                dryRun ? "Would remove" : "Removed", count, workspaceId, cutoff);
        }
        return count;
    }

    /// <summary>
    /// Deletes rows of one partition as they were read, 100 per transaction: one changed since
    /// (a claim taken over by a new event meanwhile) or gone is left as it is. Returns how many went.
    /// </summary>
    private static async Task<int> DeleteUnchangedAsync(TableClient table, IReadOnlyList<TableEntity> rows, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var chunk in rows.Chunk(TableTransactions.MaxActions))
        {
            try
            {
                await table.SubmitAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, r.ETag)).ToList(), cancellationToken);
                deleted += chunk.Length;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 404 or 412)
            {
                foreach (var r in chunk)
                {
                    try
                    {
                        await table.DeleteEntityAsync(r.PartitionKey, r.RowKey, r.ETag, cancellationToken);
                        deleted++;
                    }
                    catch (Azure.RequestFailedException one) when (one.Status == 412)
                    {
                        // Changed since it was read: no longer the claim that was stale.
                    }
                }
            }
        }
        return deleted;
    }

    /// <summary>Deletes rows of one partition, 100 per transaction; rows that are already gone are skipped.</summary>
    private static async Task DeleteAsync(TableClient table, string partitionKey, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken)
    {
        foreach (var chunk in rowKeys.Chunk(TableTransactions.MaxActions))
        {
            try
            {
                await table.SubmitAsync(chunk.Select(rk => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, rk))).ToList(), cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                // A run cut off midway already deleted some: finish the rest one by one.
                // (A delete of a row that is gone answers 404 and is not an error outside a transaction.)
                foreach (var rk in chunk)
                {
                    await table.DeleteEntityAsync(partitionKey, rk, cancellationToken: cancellationToken);
                }
            }
        }
    }

    /// <summary>Dead-letter and export blobs are named yyyy/MM/dd/…, by UTC day of creation.</summary>
    private static async Task<int> PurgeDatedBlobsAsync(BlobContainerClient container, DateOnly firstKept, bool dryRun, CancellationToken cancellationToken)
    {
        var count = 0;
        // Bounded by retention itself: each container only ever holds the kept days' blobs.
        var expired = await container.GetBlobsAsync(cancellationToken: cancellationToken)
            .Select(blob => blob.Name)
            .Where(name => name.Length >= 10 && DateOnly.TryParseExact(name[..10], "yyyy/MM/dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) && d < firstKept)
            .ToListAsync(cancellationToken);
        foreach (var name in expired)
        {
            if (dryRun || (await container.DeleteBlobIfExistsAsync(name, cancellationToken: cancellationToken)).Value)
            {
                count++;
            }
        }
        return count;
    }
}
