using AuditTrail.Core.Storage;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace AuditTrail.Core.Trail;

/// <summary>
/// The trail's tables and containers, created on first use. Creation is retried on the next use
/// if it fails, so a storage outage at start-up does not leave the app broken afterwards.
/// </summary>
public sealed class TrailStore
{
    public const string EventsTable = "AuditEvents";
    public const string EventIdsTable = "AuditEventIds";
    public const string PartitionsTable = "AuditPartitions";
    public const string WorkspaceDaysTable = "AuditWorkspaceDays";
    public const string KeysTable = "AuditTrailKeys";
    public const string DeadLetterContainer = "audit-deadletter";

    private readonly CreateOnce _creation = new();

    public TrailStore(TableServiceClient tables, BlobServiceClient blobs)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(blobs);
        Events = tables.GetTableClient(EventsTable);
        EventIds = tables.GetTableClient(EventIdsTable);
        Partitions = tables.GetTableClient(PartitionsTable);
        WorkspaceDays = tables.GetTableClient(WorkspaceDaysTable);
        Keys = tables.GetTableClient(KeysTable);
        DeadLetters = blobs.GetBlobContainerClient(DeadLetterContainer);
    }

    /// <summary>Every event's primary and index rows (docs/architecture.md).</summary>
    public TableClient Events { get; }

    /// <summary>One row per (workspace, event id): the append-only guard against id reuse.</summary>
    public TableClient EventIds { get; }

    /// <summary>Which workspace-days exist (PartitionKey = yyyyMMdd, RowKey = workspace id), for retention.</summary>
    public TableClient Partitions { get; }

    /// <summary>The same registry keyed the other way (PartitionKey = workspace id, RowKey = yyyyMMdd), so a query visits only days that hold events.</summary>
    public TableClient WorkspaceDays { get; }

    /// <summary>Secrets the app generates for itself (the continuation-token signing key).</summary>
    public TableClient Keys { get; }

    public BlobContainerClient DeadLetters { get; }

    /// <summary>
    /// Whether the primary row a claim of <see cref="EventIds"/> names (its <c>EventPartition</c>
    /// and <c>EventRow</c>) is there: false for a claim whose rows were never written; null when
    /// the claim does not name one.
    /// </summary>
    public async Task<bool?> EventRowExistsAsync(TableEntity claim, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(claim);
        if (claim.GetString("EventPartition") is not { } partition || claim.GetString("EventRow") is not { } row)
        {
            return null;
        }
        return await Events.FindAsync(partition, row, cancellationToken) is not null;
    }

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(ct => Task.WhenAll(
            Events.CreateIfNotExistsAsync(ct),
            EventIds.CreateIfNotExistsAsync(ct),
            Partitions.CreateIfNotExistsAsync(ct),
            WorkspaceDays.CreateIfNotExistsAsync(ct),
            Keys.CreateIfNotExistsAsync(ct),
            DeadLetters.CreateIfNotExistsAsync(cancellationToken: ct)), cancellationToken);
}
