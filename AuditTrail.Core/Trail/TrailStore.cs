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
        Rows = new EventTable(Events);
        Claims = new EventClaims(EventIds);
        Days = new global::AuditTrail.Core.Trail.WorkspaceDays(Partitions, WorkspaceDays);
        Secrets = new TrailSecrets(Keys);
    }

    /// <summary>The owner of <c>AuditEvents</c>.</summary>
    public EventTable Rows { get; }

    /// <summary>The owner of <c>AuditEventIds</c>.</summary>
    public EventClaims Claims { get; }

    /// <summary>The owner of <c>AuditPartitions</c> and <c>AuditWorkspaceDays</c>.</summary>
    public global::AuditTrail.Core.Trail.WorkspaceDays Days { get; }

    /// <summary>The owner of <c>AuditTrailKeys</c>.</summary>
    public TrailSecrets Secrets { get; }

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

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(ct => Task.WhenAll(
            Events.CreateIfNotExistsAsync(ct),
            EventIds.CreateIfNotExistsAsync(ct),
            Partitions.CreateIfNotExistsAsync(ct),
            WorkspaceDays.CreateIfNotExistsAsync(ct),
            Keys.CreateIfNotExistsAsync(ct),
            DeadLetters.CreateIfNotExistsAsync(cancellationToken: ct)), cancellationToken);
}
