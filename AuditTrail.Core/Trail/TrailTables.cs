using AuditTrail.Core.Storage;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace AuditTrail.Core.Trail;

/// <summary>
/// The trail's own tables and its dead-letter container: their names, their creation on first
/// use, and the owner of each table, the only code that reads or writes its rows
/// (docs/architecture.md, "Storage layout"). Creation is retried on the next use if it fails, so
/// a storage outage at start-up does not leave the app broken afterwards.
/// </summary>
public sealed class TrailTables
{
    public const string EventsTable = "AuditEvents";
    public const string EventIdsTable = "AuditEventIds";
    public const string PartitionsTable = "AuditPartitions";
    public const string WorkspaceDaysTable = "AuditWorkspaceDays";
    public const string KeysTable = "AuditTrailKeys";
    public const string DeadLetterContainer = "audit-deadletter";

    private readonly CreateOnce _creation = new();

    public TrailTables(TableServiceClient tables, BlobServiceClient blobs)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(blobs);
        Events = new EventTable(tables.GetTableClient(EventsTable));
        Claims = new EventClaims(tables.GetTableClient(EventIdsTable));
        Days = new WorkspaceDays(tables.GetTableClient(PartitionsTable), tables.GetTableClient(WorkspaceDaysTable));
        Secrets = new TrailSecrets(tables.GetTableClient(KeysTable));
        DeadLetters = blobs.GetBlobContainerClient(DeadLetterContainer);
    }

    /// <summary><c>AuditEvents</c>: every event's primary and index rows.</summary>
    public EventTable Events { get; }

    /// <summary><c>AuditEventIds</c>: one claim per (workspace, event id), the append-only guard against id reuse.</summary>
    public EventClaims Claims { get; }

    /// <summary><c>AuditPartitions</c> and <c>AuditWorkspaceDays</c>: which workspace-days hold events.</summary>
    public WorkspaceDays Days { get; }

    /// <summary><c>AuditTrailKeys</c>: secrets the app generates for itself.</summary>
    public TrailSecrets Secrets { get; }

    /// <summary>The dead-letter container; the layout of its blobs is <c>DeadLetterStore</c>'s.</summary>
    internal BlobContainerClient DeadLetters { get; }

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(ct => Task.WhenAll(
            Events.Table.CreateIfNotExistsAsync(ct),
            Claims.Table.CreateIfNotExistsAsync(ct),
            Days.ByDay.CreateIfNotExistsAsync(ct),
            Days.ByWorkspace.CreateIfNotExistsAsync(ct),
            Secrets.Table.CreateIfNotExistsAsync(ct),
            DeadLetters.CreateIfNotExistsAsync(cancellationToken: ct)), cancellationToken);
}
