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
public sealed class RetentionService(TrailTables store, BlobServiceClient blobs, TimeProvider time, ILogger<RetentionService> logger,
    AuditTrailTelemetry? telemetry = null, IntegrityStore? integrity = null)
{
    private const int Parallelism = 4;

    public static DateOnly FirstKeptDay(DateTimeOffset now) => DateOnly.FromDateTime(now.AddDays(-EventLimits.RetentionDays).UtcDateTime);

    public async Task<PurgeReport> PurgeAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var firstKept = FirstKeptDay(time.GetUtcNow());
        var expired = await store.Days.ListBeforeAsync(firstKept, cancellationToken);

        var purged = new System.Collections.Concurrent.ConcurrentBag<PurgedPartition>();
        await Parallel.ForEachAsync(expired, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            var result = await PurgePartitionAsync(p.WorkspaceId, p.Day, dryRun, ct);
            purged.Add(result);
            logger.LogInformation("{Action} partition {WorkspaceId} {Day}: {EventRows} event rows, {IdClaims} id claims",
                dryRun ? "Would purge" : "Purged", p.WorkspaceId, DayKeys.Of(p.Day), result.EventRows, result.IdClaims);
        });

        var deadLetters = await PurgeDatedBlobsAsync(store.DeadLetters, firstKept, dryRun, cancellationToken);
        // Exports are kept a week (their links say so); whatever retention would remove goes in any case.
        var exports = blobs.GetBlobContainerClient(Export.ExportService.ContainerName);
        await exports.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        var exportBlobs = await PurgeDatedBlobsAsync(exports, DateOnly.FromDateTime(time.GetUtcNow().AddDays(-Export.ExportService.KeepDays).UtcDateTime), dryRun, cancellationToken);
        // Last: it reads whole claims partitions, and a run cut short by the host leaves the rest to the next one.
        long staleClaims = 0;
        await Parallel.ForEachAsync(expired.Select(p => p.WorkspaceId).Distinct(StringComparer.Ordinal),
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

    private async Task<PurgedPartition> PurgePartitionAsync(string workspaceId, DateOnly day, bool dryRun, CancellationToken cancellationToken)
    {
        var partitionKey = TrailKeys.PartitionKey(workspaceId, day);
        long rows = 0, claims = 0;
        // Page by page: a day of a busy workspace does not have to fit in memory.
        await foreach (var (rowKeys, eventIds) in store.Events.KeysAsync(partitionKey, cancellationToken))
        {
            // Claims are found through the primary rows; each event has exactly one.
            rows += rowKeys.Count;
            claims += eventIds.Count;
            if (dryRun)
            {
                continue;
            }
            await store.Claims.DeleteAsync(workspaceId, eventIds, cancellationToken);
            await store.Events.DeleteAsync(partitionKey, rowKeys, cancellationToken);
        }
        if (!dryRun)
        {
            await RecordPurgeAsync(workspaceId, day, cancellationToken);
            await store.Days.DeleteAsync(workspaceId, day, cancellationToken);
        }
        return new PurgedPartition(workspaceId, day, rows, claims);
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
        await foreach (var page in store.Claims.ReceivedBeforeAsync(workspaceId, cutoff, cancellationToken))
        {
            if (!dryRun)
            {
                count += await store.Claims.DeleteUnchangedAsync(page.Values, cancellationToken);
                continue;
            }
            // A dry run deleted no rows, so the claims of the rows it counted are still here: only
            // those without rows are this step's.
            foreach (var claim in page.Values)
            {
                if (await store.Events.PrimaryRowExistsAsync(claim, cancellationToken) != true)
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
