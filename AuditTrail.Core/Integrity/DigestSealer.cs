using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Integrity;

/// <summary>What one seal run did.</summary>
public sealed record SealReport(DateTimeOffset SealedThrough, IReadOnlyList<SealedDigest> Digests);

/// <summary>
/// Seals, per workspace with new ledger entries (or purges), one digest of the entries recorded
/// since its previous digest and before <c>now − SealDelay</c>: the count, the Merkle root
/// (<see cref="MerkleTree"/>), the previous digest's hash, signed as an ES256 JWS. Written first as
/// blob <c>audit-digests/{workspace}/{sequence}.jws</c> with If-None-Match, so of two sealers only one
/// makes a sequence number; the loser, and a run that crashed after the blob, adopt that blob into
/// the table and go on from it. When forwarding is on, each digest is also stored as event
/// <c>Audit Digest Sealed</c> and so forwarded to the source.
/// </summary>
public sealed class DigestSealer(
    IntegrityStore store, IntegrityKeys keys, IOptions<IntegrityOptions> options, TimeProvider time,
    ForwardingSettingsStore forwarding, ActionRecorder recorder, ILogger<DigestSealer> logger)
{
    public const string SealedEventType = "Audit Digest Sealed";
    private const int Parallelism = 4;

    /// <summary>Seals every workspace with something new, or only <paramref name="workspaceId"/> (which leaves the run's state alone).</summary>
    public async Task<SealReport> SealAsync(string? workspaceId = null, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var end = time.GetUtcNow() - options.Value.SealDelay;
        var state = workspaceId is null ? await store.Digests.FindAsync(IntegrityStore.StatePartition, "sealer", cancellationToken) : null;
        // The registry from the hour before the last run's end (or before this run's, whichever is
        // earlier: a clock set back must not hide entries), so every workspace that recorded since is found.
        // The first run ever reads back the whole retention period.
        var from = state is null ? end.AddDays(-(Events.EventLimits.RetentionDays + 1))
            : state.GetDateTimeOffset("SealedThrough") is { } through && through < end ? through : end;
        var scanFrom = from.AddHours(-1);
        var registry = await store.Ledger.QueryAsync<TableEntity>(
                workspaceId is null
                    ? TableClient.CreateQueryFilter($"PartitionKey ge {IntegrityStore.RegistryPrefix + IntegrityStore.Hour(scanFrom)} and PartitionKey le {IntegrityStore.RegistryPrefix + IntegrityStore.Hour(end)}")
                    : TableClient.CreateQueryFilter($"PartitionKey ge {IntegrityStore.RegistryPrefix + IntegrityStore.Hour(scanFrom)} and PartitionKey le {IntegrityStore.RegistryPrefix + IntegrityStore.Hour(end)} and RowKey eq {workspaceId}"),
                select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Select(r => (Workspace: r.RowKey, Hour: r.PartitionKey[IntegrityStore.RegistryPrefix.Length..])).ToListAsync(cancellationToken);
        var firstHours = registry.GroupBy(r => r.Workspace, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => DateTimeOffset.ParseExact(g.Min(r => r.Hour)!, "yyyyMMddHH", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), StringComparer.Ordinal);
        var purges = await store.Digests.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {IntegrityStore.PendingPurgesPartition}"),
                select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => r.RowKey).Where(w => workspaceId is null || w == workspaceId).ToListAsync(cancellationToken);
        var workspaces = registry.Select(r => r.Workspace).Concat(purges).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var sealedNow = new System.Collections.Concurrent.ConcurrentBag<SealedDigest>();
        await Parallel.ForEachAsync(workspaces, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (ws, ct) =>
        {
            foreach (var d in await SealWorkspaceAsync(ws, firstHours.TryGetValue(ws, out var first) ? first : scanFrom, end, ct))
            {
                sealedNow.Add(d);
            }
        });
        // Only once every workspace is sealed through it: the next run starts its registry read here.
        if (workspaceId is null)
        {
            await store.Digests.UpsertEntityAsync(new TableEntity(IntegrityStore.StatePartition, "sealer") { ["SealedThrough"] = end }, TableUpdateMode.Replace, cancellationToken);
        }
        logger.LogInformation("Sealed {Digests} digests of {Workspaces} workspaces through {SealedThrough:o}", sealedNow.Count, workspaces.Count, end);
        return new SealReport(end, sealedNow.OrderBy(d => d.Payload.WorkspaceId, StringComparer.Ordinal).ToList());
    }

    private async Task<List<SealedDigest>> SealWorkspaceAsync(string ws, DateTimeOffset firstStart, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var made = new List<SealedDigest>();
        while (true)
        {
            var head = await store.Digests.FindAsync(ws, IntegrityStore.HeadRow, cancellationToken);
            var sequence = (head?.GetInt64("Sequence") ?? -1) + 1;
            var blob = store.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(ws, sequence));
            if (await blob.ExistsAsync(cancellationToken))
            {
                // Sealed by another run (concurrent, or one that stopped after the blob): adopt it.
                var text = (await blob.DownloadContentAsync(cancellationToken)).Value.Content.ToString();
                var read = DigestJws.Read(text) ?? throw new InvalidOperationException($"Digest blob {blob.Name} is not a digest; verification reports it.");
                await IndexAsync(new SealedDigest(read.Payload, text, read.Header.Kid), head, cancellationToken);
                continue;
            }
            var start = head?.GetString("End") is { } previousEnd ? DigestPayload.ParseTime(previousEnd) : firstStart;
            if (start >= end)
            {
                return made;
            }
            var entries = await EntriesAsync(store, ws, start, end, cancellationToken);
            var purged = await store.Digests.QueryAsync<TableEntity>(
                    TableClient.CreateQueryFilter($"PartitionKey eq {ws} and RowKey ge 'p' and RowKey lt 'q'"), cancellationToken: cancellationToken)
                .Where(p => p.GetInt64("Sequence") is null).ToListAsync(cancellationToken);
            if (entries.Count == 0 && purged.Count == 0)
            {
                return made;
            }
            var key = await keys.ActiveAsync(cancellationToken);
            var payload = new DigestPayload(DigestPayload.CurrentVersion, ws, sequence, DigestPayload.Time(start), DigestPayload.Time(end), entries.Count,
                Convert.ToHexStringLower(MerkleTree.Root(entries)), head?.GetString("DigestHash"),
                purged.Select(p => DateOnly.ParseExact(p.RowKey[1..], "yyyyMMdd", CultureInfo.InvariantCulture).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal).ToList(),
                DigestPayload.Time(time.GetUtcNow()));
            var jws = DigestJws.Sign(payload, key);
            try
            {
                await blob.UploadAsync(BinaryData.FromString(jws), new BlobUploadOptions
                {
                    Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                    HttpHeaders = new BlobHttpHeaders { ContentType = "application/jose" },
                }, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                continue; // another sealer made this sequence first: adopt theirs on the next pass
            }
            var digest = new SealedDigest(payload, jws, key.Kid);
            await IndexAsync(digest, head, cancellationToken);
            foreach (var p in purged)
            {
                await store.Digests.UpdateEntityAsync(new TableEntity(ws, p.RowKey) { ["Sequence"] = sequence }, p.ETag, TableUpdateMode.Merge, cancellationToken);
            }
            if (purged.Count > 0)
            {
                await store.Digests.DeleteEntityAsync(IntegrityStore.PendingPurgesPartition, ws, cancellationToken: cancellationToken);
            }
            logger.LogInformation("Sealed digest {Sequence} of {WorkspaceId}: {Count} events from {Start} to {End}", sequence, ws, entries.Count, payload.Start, payload.End);
            made.Add(digest);
            await ForwardAsync(digest, cancellationToken);
        }
    }

    /// <summary>
    /// The workspace's ledger entries recorded in [start, end): one range read over its hour
    /// partitions (the workspace filter, because another workspace's id may extend this one's and
    /// so sort its partitions into the range).
    /// </summary>
    internal static async Task<List<LedgerLeaf>> EntriesAsync(IntegrityStore store, string ws, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken) =>
        await store.Ledger.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey ge {IntegrityStore.LedgerPartition(ws, start)} and PartitionKey le {IntegrityStore.LedgerPartition(ws, end)} and WorkspaceId eq {ws} and RecordedAt ge {start} and RecordedAt lt {end}"),
                select: ["EventId", "RowHash"], cancellationToken: cancellationToken)
            .Select(r => new LedgerLeaf(r.GetString("EventId") ?? string.Empty, Convert.FromHexString(r.GetString("RowHash") ?? string.Empty)))
            .ToListAsync(cancellationToken);

    private async Task IndexAsync(SealedDigest digest, TableEntity? head, CancellationToken cancellationToken)
    {
        var p = digest.Payload;
        var row = new TableEntity(p.WorkspaceId, IntegrityStore.DigestRow(p.Sequence))
        {
            ["Start"] = p.Start,
            ["End"] = p.End,
            ["Count"] = p.Count,
            ["MerkleRoot"] = p.MerkleRoot,
            ["PreviousDigest"] = p.PreviousDigest,
            ["SealedAt"] = p.SealedAt,
            ["Kid"] = digest.Kid,
            ["DigestHash"] = digest.Hash,
            ["Jws"] = digest.Jws,
        };
        await store.Digests.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken);
        var next = new TableEntity(p.WorkspaceId, IntegrityStore.HeadRow)
        {
            ["Sequence"] = p.Sequence,
            ["End"] = p.End,
            ["DigestHash"] = digest.Hash,
            ["SealedAt"] = p.SealedAt,
        };
        try
        {
            if (head is null)
            {
                await store.Digests.AddEntityAsync(next, cancellationToken);
            }
            else
            {
                await store.Digests.UpdateEntityAsync(next, head.ETag, TableUpdateMode.Replace, cancellationToken);
            }
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // Another sealer moved the head meanwhile; the loop reads it again.
        }
    }

    private async Task ForwardAsync(SealedDigest digest, CancellationToken cancellationToken)
    {
        var p = digest.Payload;
        if (!(await forwarding.GetCachedAsync(p.WorkspaceId, cancellationToken)).Enabled)
        {
            return;
        }
        var e = new JsonObject
        {
            // The digest's hash: unknown before it is signed, and the same for this digest every time.
            ["id"] = TrailRecordIds.Of("audit-digest", $"{p.Sequence.ToString(CultureInfo.InvariantCulture)}-{digest.Hash[..Math.Min(32, digest.Hash.Length)]}"),
            ["workspaceId"] = p.WorkspaceId,
            ["type"] = SealedEventType,
            ["timestamp"] = p.SealedAt,
            ["actor"] = new JsonObject { ["type"] = "system", ["id"] = "integrity-sealer" },
            ["resource"] = new JsonObject { ["type"] = "audit-digest", ["id"] = IntegrityStore.DigestBlobName(p.WorkspaceId, p.Sequence) },
            ["properties"] = new JsonObject
            {
                ["sequence"] = p.Sequence,
                ["start"] = p.Start,
                ["end"] = p.End,
                ["count"] = p.Count,
                ["merkleRoot"] = p.MerkleRoot,
                ["previousDigest"] = p.PreviousDigest,
                ["kid"] = digest.Kid,
                ["digestHash"] = digest.Hash,
                ["jws"] = digest.Jws,
            },
        };
        await recorder.StoreAsync(recorder.Check(e), cancellationToken);
    }
}
