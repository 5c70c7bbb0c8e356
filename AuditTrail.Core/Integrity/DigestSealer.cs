using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Core.Telemetry;
using Azure;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Integrity;

/// <summary>A workspace a seal run could not seal, and why.</summary>
public sealed record SealFailure(string WorkspaceId, string Reason);

/// <summary>What one seal run did: the digests it made, and the workspaces it failed to seal (the others were sealed all the same).</summary>
public sealed record SealReport(DateTimeOffset SealedThrough, IReadOnlyList<SealedDigest> Digests, IReadOnlyList<SealFailure> Failed)
{
    public bool Succeeded => Failed.Count == 0;
}

/// <summary>
/// Seals, per workspace with new ledger entries (or purges), one digest of the entries recorded
/// since its previous digest and before <c>now − SealDelay</c>: the count, the Merkle root
/// (<see cref="MerkleTree"/>), the previous digest's hash, signed as an ES256 JWS. Written first as
/// blob <c>audit-digests/{workspace}/{sequence}.jws</c> with If-None-Match, so of two sealers only one
/// makes a sequence number; the loser, and a run that crashed after the blob, adopt that blob into
/// the table and go on from it — only once it verifies with a trusted key as the next link of the
/// chain. A blob that does not (planted by someone with storage access) is not adopted: it is
/// alarmed (error log, <c>audittrail.integrity.digest_conflicts</c>), and the genuine digest goes
/// to the sequence's next free slot (<see cref="IntegrityStore.DigestBlobName(string, long, int)"/>).
/// Each workspace is sealed on its own: one that fails is counted and reported, the rest are sealed.
/// When forwarding is on, each digest is also stored as event <c>Audit Digest Sealed</c> and so
/// forwarded to the source.
/// </summary>
public sealed class DigestSealer(
    IntegrityStore store, IntegrityKeys keys, IOptions<IntegrityOptions> options, TimeProvider time,
    ForwardingSettingsStore forwarding, ActionRecorder recorder, AuditTrailTelemetry telemetry, ILogger<DigestSealer> logger)
{
    public const string SealedEventType = "Audit Digest Sealed";
    private const int Parallelism = 4;

    /// <summary>Slots of one sequence lost in a row to another writer before the workspace gives up for this run (a live race with a planter).</summary>
    private const int MaxLostSlots = 8;

    /// <summary>Seals every workspace with something new, or only <paramref name="workspaceId"/> (which leaves the run's state alone).</summary>
    public async Task<SealReport> SealAsync(string? workspaceId = null, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var end = time.GetUtcNow() - options.Value.SealDelay;
        var state = workspaceId is null ? await store.Digests.SealerStateAsync(cancellationToken) : null;
        // The registry from the hour before the last run's end (or before this run's, whichever is
        // earlier: a clock set back must not hide entries), so every workspace that recorded since is found.
        // The first run ever reads back the whole retention period.
        var from = state is null ? end.AddDays(-(Events.EventLimits.RetentionDays + 1))
            : state.SealedThrough is { } through && through < end ? through : end;
        var scanFrom = from.AddHours(-1);
        var registry = await store.Ledger.RegisteredAsync(IntegrityStore.Hour(scanFrom), IntegrityStore.Hour(end), workspaceId, cancellationToken);
        var firstHours = registry.GroupBy(r => r.Workspace, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => DateTimeOffset.ParseExact(g.Min(r => r.Hour)!, "yyyyMMddHH", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), StringComparer.Ordinal);
        var purges = (await store.Digests.PendingPurgeWorkspacesAsync(cancellationToken)).Where(w => workspaceId is null || w == workspaceId).ToList();
        var workspaces = registry.Select(r => r.Workspace).Concat(purges).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var sealedNow = new System.Collections.Concurrent.ConcurrentBag<SealedDigest>();
        var failed = new System.Collections.Concurrent.ConcurrentBag<SealFailure>();
        await Parallel.ForEachAsync(workspaces, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (ws, ct) =>
        {
            // Each workspace on its own: one that fails (its storage refusing, a row that cannot be
            // read, a slot race lost too often) is counted and left for the next run; a failure let
            // out of here would cancel every other workspace's seal.
            try
            {
                await SealWorkspaceAsync(ws, firstHours.TryGetValue(ws, out var first) ? first : scanFrom, end, sealedNow.Add, ct);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // One line: the reason is printed per workspace by `integrity seal` and answered by the timer.
                failed.Add(new SealFailure(ws, StorageFailures.Describe(ex)));
                telemetry.SealFailed();
                logger.LogError(ex, "Sealing {WorkspaceId} failed; the other workspaces are sealed and the next run tries it again", ws);
            }
        });
        // Only once every workspace is sealed through it: the next run starts its registry read here
        // (so a workspace that failed is found again by the next run).
        if (workspaceId is null && failed.IsEmpty)
        {
            await store.Digests.SaveSealedThroughAsync(end, cancellationToken);
        }
        logger.LogInformation("Sealed {Digests} digests of {Workspaces} workspaces through {SealedThrough:o}; {Failed} failed", sealedNow.Count, workspaces.Count, end, failed.Count);
        return new SealReport(end, sealedNow.OrderBy(d => d.Payload.WorkspaceId, StringComparer.Ordinal).ThenBy(d => d.Payload.Sequence).ToList(),
            failed.OrderBy(f => f.WorkspaceId, StringComparer.Ordinal).ToList());
    }

    private async Task SealWorkspaceAsync(string ws, DateTimeOffset firstStart, DateTimeOffset end, Action<SealedDigest> made, CancellationToken cancellationToken)
    {
        var trusted = await keys.TrustedAsync(cancellationToken);
        var lost = 0;
        while (true)
        {
            var head = await store.Digests.HeadAsync(ws, cancellationToken);
            var sequence = (head?.Sequence ?? -1) + 1;
            var (adoptable, slot) = await ExamineSlotsAsync(ws, sequence, head, trusted, cancellationToken);
            if (adoptable is not null)
            {
                // Sealed by another run (concurrent, or one that stopped after the blob): adopt it.
                await store.Digests.IndexAsync(adoptable, IntegrityStore.DigestBlobName(ws, sequence, slot), head, cancellationToken);
                continue;
            }
            var start = head?.End is { } previousEnd ? DigestPayload.ParseTime(previousEnd) : firstStart;
            if (start >= end)
            {
                return;
            }
            var entries = await EntriesAsync(store, ws, start, end, cancellationToken);
            var purged = await store.Digests.UnsealedPurgesAsync(ws, cancellationToken);
            if (entries.Count == 0 && purged.Count == 0)
            {
                return;
            }
            var key = await keys.ActiveAsync(cancellationToken);
            var payload = new DigestPayload(DigestPayload.CurrentVersion, ws, sequence, DigestPayload.Time(start), DigestPayload.Time(end), entries.Count,
                Convert.ToHexStringLower(MerkleTree.Root(entries)), head?.DigestHash,
                purged.Select(p => DayKeys.Parse(p.Day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal).ToList(),
                DigestPayload.Time(time.GetUtcNow()));
            var digest = new SealedDigest(payload, DigestJws.Sign(payload, key), key.Kid);
            if (!await TryWriteAsync(IntegrityStore.DigestBlobName(ws, sequence, slot), digest.Jws, cancellationToken))
            {
                // Another sealer (or a writer racing this one) took the slot first: look at what it holds on the next pass.
                if (++lost > MaxLostSlots)
                {
                    throw new InvalidOperationException($"Lost {lost} slots of digest {sequence} of {ws} to other writers in one run.");
                }
                continue;
            }
            await store.Digests.IndexAsync(digest, IntegrityStore.DigestBlobName(ws, sequence, slot), head, cancellationToken);
            await store.Digests.SealPurgesAsync(ws, purged, sequence, cancellationToken);
            logger.LogInformation("Sealed digest {Sequence} of {WorkspaceId}: {Count} events from {Start} to {End}", sequence, ws, entries.Count, payload.Start, payload.End);
            made(digest);
            await ForwardAsync(digest, cancellationToken);
        }
    }

    /// <summary>
    /// The blobs already at the sequence's names, lowest slot first: the first that is a trusted
    /// digest of this workspace and sequence and the next link after the head is adopted; any other
    /// is alarmed and passed over. The adopted digest's slot, or else the first free one. One listing per sequence sealed
    /// (what the existence check before it cost), one download per blob found.
    /// </summary>
    private async Task<(SealedDigest? Adoptable, int Slot)> ExamineSlotsAsync(
        string ws, long sequence, ChainHead? head, IReadOnlyDictionary<string, JsonWebKey> trusted, CancellationToken cancellationToken)
    {
        var slots = await store.DigestBlobs.GetBlobsAsync(BlobTraits.None, BlobStates.None, IntegrityStore.DigestBlobPrefix(ws, sequence), cancellationToken)
            .Select(b => IntegrityStore.TryParseDigestBlobName(b.Name, out var q, out var k) && q == sequence ? k : -1)
            .Where(k => k >= 0).OrderBy(k => k).ToListAsync(cancellationToken);
        foreach (var slot in slots)
        {
            var name = IntegrityStore.DigestBlobName(ws, sequence, slot);
            var text = (await store.DigestBlobs.GetBlobClient(name).DownloadContentAsync(cancellationToken)).Value.Content.ToString();
            var problem = DigestTrust.Problem(text, trusted, ws, sequence) ?? ChainProblem(DigestJws.Read(text)!.Value.Payload, head);
            if (problem is null)
            {
                var (header, payload) = DigestJws.Read(text)!.Value;
                return (new SealedDigest(payload, text, header.Kid), slot);
            }
            telemetry.DigestConflict();
            logger.LogError("Digest blob {Blob} of {WorkspaceId} is not adopted as digest {Sequence}: {Problem}. Someone with storage access wrote it; the genuine digest goes to the next free name and verification reports this blob as digest_conflict",
                name, ws, sequence, problem);
        }
        return (null, slots.Count == 0 ? 0 : slots[^1] + 1);
    }

    /// <summary>Why a trusted digest is not the next link after the head (its previous hash, its start), or null.</summary>
    private static string? ChainProblem(DigestPayload payload, ChainHead? head)
    {
        var previous = head?.DigestHash;
        if (payload.PreviousDigest != previous)
        {
            return $"it names previous digest {payload.PreviousDigest ?? "none"}, not {previous ?? "none"}";
        }
        return head?.End is { } end && payload.Start != end ? $"it starts at {payload.Start}, not where the previous digest ended ({end})" : null;
    }

    /// <summary>Writes the digest blob if nothing is at that name; false when something is (another sealer's, or a planted one).</summary>
    private async Task<bool> TryWriteAsync(string name, string jws, CancellationToken cancellationToken)
    {
        try
        {
            await store.DigestBlobs.GetBlobClient(name).UploadAsync(BinaryData.FromString(jws), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/jose" },
            }, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }

    /// <summary>
    /// The workspace's ledger entries recorded in [start, end): one range read over its hour
    /// partitions (the workspace filter, because another workspace's id may extend this one's and
    /// so sort its partitions into the range).
    /// </summary>
    internal static async Task<List<LedgerLeaf>> EntriesAsync(IntegrityStore store, string ws, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken) =>
        (await store.Ledger.ReadAsync(ws, start, end, leavesOnly: true, cancellationToken))
            .Select(r => new LedgerLeaf(r.EventId, Convert.FromHexString(r.RowHash))).ToList();

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
