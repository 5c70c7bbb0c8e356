using System.Globalization;
using System.Runtime.Serialization;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Integrity;

/// <summary>A sealed digest's table row (<c>d{sequence:D10}</c> of its workspace): the index of its blob, with the payload's fields and the JWS itself.</summary>
public sealed class DigestRecord : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>Which slot holds it: the first name may hold a planted blob.</summary>
    public string? Blob { get; set; }

    public string? Start { get; set; }

    public string? End { get; set; }

    public long Count { get; set; }

    public string? MerkleRoot { get; set; }

    public string? PreviousDigest { get; set; }

    public string? SealedAt { get; set; }

    public string? Kid { get; set; }

    public string? DigestHash { get; set; }

    public string? Jws { get; set; }

    /// <summary>The sequence its row key names (not a column).</summary>
    [IgnoreDataMember]
    public long Sequence => long.Parse(RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture);

    public static DigestRecord Of(SealedDigest digest, string blobName)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var p = digest.Payload;
        return new DigestRecord
        {
            PartitionKey = p.WorkspaceId, RowKey = IntegrityStore.DigestRow(p.Sequence), Blob = blobName, Start = p.Start, End = p.End, Count = p.Count,
            MerkleRoot = p.MerkleRoot, PreviousDigest = p.PreviousDigest, SealedAt = p.SealedAt, Kid = digest.Kid, DigestHash = digest.Hash, Jws = digest.Jws,
        };
    }

    /// <summary>The digest as listed for its owner.</summary>
    public DigestSummary ToSummary() => new(
        Sequence, DigestPayload.ParseTime(Start!), DigestPayload.ParseTime(End!), Count, MerkleRoot ?? string.Empty, PreviousDigest,
        DigestPayload.ParseTime(SealedAt!), Kid ?? string.Empty, DigestHash ?? string.Empty,
        IntegrityStore.DigestContainer + "/" + (Blob ?? IntegrityStore.DigestBlobName(PartitionKey, Sequence)), Jws ?? string.Empty);
}

/// <summary>A workspace's chain head (row <c>head</c>): the last digest sealed, which the next one names and starts from.</summary>
public sealed class ChainHead : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = IntegrityStore.HeadRow;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public long? Sequence { get; set; }

    public string? End { get; set; }

    public string? DigestHash { get; set; }

    public string? SealedAt { get; set; }
}

/// <summary>A purged workspace-day (row <c>p{yyyyMMdd}</c>), and the digest that sealed the purge once one has.</summary>
public sealed class PurgeRecord : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public DateTimeOffset? PurgedAt { get; set; }

    public long? Sequence { get; set; }

    /// <summary>The purged day its row key names, <c>yyyyMMdd</c> (not a column).</summary>
    [IgnoreDataMember]
    public string Day => RowKey[1..];
}

/// <summary>The sealer's state (row <c>sealer</c> of partition <c>~state</c>): through when every workspace was sealed by the last complete run.</summary>
public sealed class SealerState : ITableEntity
{
    public string PartitionKey { get; set; } = IntegrityStore.StatePartition;

    public string RowKey { get; set; } = SealerRow;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public DateTimeOffset? SealedThrough { get; set; }

    internal const string SealerRow = "sealer";
}

/// <summary>
/// The owner of table <c>AuditDigests</c> (layout in <see cref="IntegrityStore"/>): per workspace its
/// digest rows, its chain head and its purge records; the sealer's state; the workspaces with
/// purges no digest has sealed yet.
/// </summary>
public sealed class DigestRecords
{
    private readonly TableClient _table;

    internal DigestRecords(TableClient table) => _table = table;

    internal Task CreateIfNotExistsAsync(CancellationToken cancellationToken) => _table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>The workspace's digest rows by sequence.</summary>
    public async Task<Dictionary<long, DigestRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken) =>
        await _table.QueryAsync<DigestRecord>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge 'd' and RowKey lt 'e'"), cancellationToken: cancellationToken)
            .Where(r => long.TryParse(r.RowKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .ToDictionaryAsync(r => r.Sequence, cancellationToken: cancellationToken);

    public async Task<ChainHead?> HeadAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var found = await _table.GetEntityIfExistsAsync<ChainHead>(workspaceId, IntegrityStore.HeadRow, cancellationToken: cancellationToken);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>
    /// Writes the digest's row, then moves the chain head to it from <paramref name="head"/> (as
    /// read); when another sealer moved the head meanwhile, leaves it: the caller reads it again.
    /// </summary>
    public async Task IndexAsync(SealedDigest digest, string blobName, ChainHead? head, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var p = digest.Payload;
        await _table.UpsertEntityAsync(DigestRecord.Of(digest, blobName), TableUpdateMode.Replace, cancellationToken);
        var next = new ChainHead { PartitionKey = p.WorkspaceId, Sequence = p.Sequence, End = p.End, DigestHash = digest.Hash, SealedAt = p.SealedAt };
        try
        {
            if (head is null)
            {
                await _table.AddEntityAsync(next, cancellationToken);
            }
            else
            {
                await _table.UpdateEntityAsync(next, head.ETag, TableUpdateMode.Replace, cancellationToken);
            }
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // Another sealer moved the head meanwhile; the caller reads it again.
        }
    }

    /// <summary>
    /// Records a purged workspace-day for the digests (once: a run cut off after it finds it there),
    /// and the workspace among those with purges to seal.
    /// </summary>
    public async Task RecordPurgeAsync(string workspaceId, DateOnly day, DateTimeOffset purgedAt, CancellationToken cancellationToken)
    {
        try
        {
            await _table.AddEntityAsync(new PurgeRecord { PartitionKey = workspaceId, RowKey = IntegrityStore.PurgeRow(day), PurgedAt = purgedAt }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // Recorded by a run cut off after it.
        }
        await _table.UpsertEntityAsync(new TableEntity(IntegrityStore.PendingPurgesPartition, workspaceId), TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>The workspace's purge records no digest has sealed yet.</summary>
    public async Task<List<PurgeRecord>> UnsealedPurgesAsync(string workspaceId, CancellationToken cancellationToken) =>
        await _table.QueryAsync<PurgeRecord>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge 'p' and RowKey lt 'q'"), cancellationToken: cancellationToken)
            .Where(p => p.Sequence is null).ToListAsync(cancellationToken);

    /// <summary>Every purged day of the workspace (<c>yyyyMMdd</c>), sealed or not.</summary>
    public async Task<List<string>> PurgedDaysAsync(string workspaceId, CancellationToken cancellationToken) =>
        await _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge 'p' and RowKey lt 'q'"), select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => r.RowKey[1..]).ToListAsync(cancellationToken);

    /// <summary>Marks the purges as sealed by digest <paramref name="sequence"/> (each as read), then takes the workspace off the pending list.</summary>
    public async Task SealPurgesAsync(string workspaceId, IReadOnlyList<PurgeRecord> purges, long sequence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(purges);
        foreach (var p in purges)
        {
            // Only the sequence: the typed record would also write a purge time, which this does not know.
            await _table.UpdateEntityAsync(new TableEntity(workspaceId, p.RowKey) { [nameof(PurgeRecord.Sequence)] = sequence }, p.ETag, TableUpdateMode.Merge, cancellationToken);
        }
        if (purges.Count > 0)
        {
            await _table.DeleteEntityAsync(IntegrityStore.PendingPurgesPartition, workspaceId, cancellationToken: cancellationToken);
        }
    }

    /// <summary>The workspaces with purges no digest has sealed yet.</summary>
    public async Task<List<string>> PendingPurgeWorkspacesAsync(CancellationToken cancellationToken) =>
        await _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {IntegrityStore.PendingPurgesPartition}"), select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => r.RowKey).ToListAsync(cancellationToken);

    public async Task<SealerState?> SealerStateAsync(CancellationToken cancellationToken)
    {
        var found = await _table.GetEntityIfExistsAsync<SealerState>(IntegrityStore.StatePartition, SealerState.SealerRow, cancellationToken: cancellationToken);
        return found.HasValue ? found.Value : null;
    }

    public Task SaveSealedThroughAsync(DateTimeOffset sealedThrough, CancellationToken cancellationToken) =>
        _table.UpsertEntityAsync(new SealerState { SealedThrough = sealedThrough }, TableUpdateMode.Replace, cancellationToken);
}
