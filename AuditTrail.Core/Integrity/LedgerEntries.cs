using System.Runtime.Serialization;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Integrity;

/// <summary>One ledger entry: a stored event, the hash of its stored row, and when and where it was recorded.</summary>
public sealed class LedgerEntry : ITableEntity, IMeasuredEntity
{
    /// <summary><c>{workspace}_{yyyyMMddHH}</c> of <see cref="RecordedAt"/>.</summary>
    public string PartitionKey { get; set; } = string.Empty;

    /// <summary>The encoded event id.</summary>
    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string EventId { get; set; } = string.Empty;

    public string WorkspaceId { get; set; } = string.Empty;

    /// <summary>Lower-case hex of the stored primary row's hash (<see cref="Integrity.RowHash"/>).</summary>
    public string RowHash { get; set; } = string.Empty;

    public DateTimeOffset RecordedAt { get; set; }

    /// <summary>The keys of the event's primary row.</summary>
    public string EventPartition { get; set; } = string.Empty;

    public string EventRow { get; set; } = string.Empty;

    /// <summary>Its JSON's size, which the transaction guard measures (<see cref="TableTransactions"/>); not a column.</summary>
    [IgnoreDataMember]
    public int JsonBytes => TableTransactions.JsonBytes(
    [
        new(nameof(PartitionKey), PartitionKey), new(nameof(RowKey), RowKey), new(nameof(EventId), EventId), new(nameof(WorkspaceId), WorkspaceId),
        new(nameof(RowHash), RowHash), new(nameof(RecordedAt), RecordedAt), new(nameof(EventPartition), EventPartition), new(nameof(EventRow), EventRow),
    ]);
}

/// <summary>
/// The owner of table <c>AuditLedger</c> (layout in <see cref="IntegrityStore"/>): the entries,
/// inserted and never replaced, and the registry of which workspaces recorded in which hour,
/// which the sealer reads to find the workspaces with something to seal.
/// </summary>
public sealed class LedgerEntries
{
    private readonly TableClient _table;

    internal LedgerEntries(TableClient table) => _table = table;

    internal Task CreateIfNotExistsAsync(CancellationToken cancellationToken) => _table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>The entry for an event recorded at <paramref name="recordedAt"/>.</summary>
    public static LedgerEntry Entry(LedgerItem item, string partition, DateTimeOffset recordedAt)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new LedgerEntry
        {
            PartitionKey = partition,
            RowKey = TrailKeys.Encode(item.EventId),
            EventId = item.EventId,
            WorkspaceId = item.WorkspaceId,
            RowHash = Convert.ToHexStringLower(item.RowHash),
            RecordedAt = recordedAt,
            EventPartition = item.EventPartition,
            EventRow = item.EventRow,
        };
    }

    /// <summary>
    /// Adds one partition's entries in one transaction; where some are there already (a concurrent
    /// delivery of the same events, or a retry of this write), reads which in one range query and
    /// adds the rest, rather than one request an entry: overlapping producers hit this on every batch.
    /// </summary>
    public async Task AddMissingAsync(List<LedgerEntry> entries, int maxRounds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        for (var round = 0; entries.Count > 0; round++)
        {
            try
            {
                await _table.SubmitAsync(entries.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)).ToList(), cancellationToken);
                return;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409 && round < maxRounds)
            {
                var partition = entries[0].PartitionKey;
                var low = entries.Select(e => e.RowKey).Min(StringComparer.Ordinal)!;
                var high = entries.Select(e => e.RowKey).Max(StringComparer.Ordinal)!;
                var present = new HashSet<string>(StringComparer.Ordinal);
                var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {low} and RowKey le {high}");
                await foreach (var row in _table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
                {
                    present.Add(row.RowKey);
                }
                entries = entries.Where(e => !present.Contains(e.RowKey)).ToList();
            }
        }
    }

    /// <summary>Registers that these workspaces recorded in the hour (upserts: registering twice is harmless).</summary>
    public async Task RegisterAsync(string hour, IReadOnlyList<string> workspaces, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workspaces);
        foreach (var chunk in workspaces.Chunk(TableTransactions.MaxActions))
        {
            await _table.SubmitAsync(chunk.Select(w => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(IntegrityStore.RegistryPrefix + hour, w))).ToList(), cancellationToken);
        }
    }

    /// <summary>The registry from hour <paramref name="fromHour"/> through <paramref name="toHour"/> (<c>yyyyMMddHH</c>): which workspace recorded in which hour; only <paramref name="workspaceId"/>'s when given.</summary>
    public async Task<List<(string Workspace, string Hour)>> RegisteredAsync(string fromHour, string toHour, string? workspaceId, CancellationToken cancellationToken)
    {
        var (low, high) = (IntegrityStore.RegistryPrefix + fromHour, IntegrityStore.RegistryPrefix + toHour);
        var filter = workspaceId is null
            ? TableClient.CreateQueryFilter($"PartitionKey ge {low} and PartitionKey le {high}")
            : TableClient.CreateQueryFilter($"PartitionKey ge {low} and PartitionKey le {high} and RowKey eq {workspaceId}");
        return await _table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Select(r => (Workspace: r.RowKey, Hour: r.PartitionKey[IntegrityStore.RegistryPrefix.Length..])).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// The workspace's entries recorded in [start, end): one range read over its hour partitions
    /// (the workspace filter, because another workspace's id may extend this one's and so sort its
    /// partitions into the range). <paramref name="leavesOnly"/> reads only the event id and row hash.
    /// </summary>
    public async Task<List<LedgerEntry>> ReadAsync(string workspaceId, DateTimeOffset start, DateTimeOffset end, bool leavesOnly, CancellationToken cancellationToken) =>
        await _table.QueryAsync<LedgerEntry>(
                TableClient.CreateQueryFilter($"PartitionKey ge {IntegrityStore.LedgerPartition(workspaceId, start)} and PartitionKey le {IntegrityStore.LedgerPartition(workspaceId, end)} and WorkspaceId eq {workspaceId} and RecordedAt ge {start} and RecordedAt lt {end}"),
                select: leavesOnly ? [nameof(LedgerEntry.EventId), nameof(LedgerEntry.RowHash)] : null, cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken);

    /// <summary>The event's entry in this ledger partition, or null.</summary>
    public async Task<LedgerEntry?> FindAsync(string partition, string eventId, CancellationToken cancellationToken)
    {
        var found = await _table.GetEntityIfExistsAsync<LedgerEntry>(partition, TrailKeys.Encode(eventId), cancellationToken: cancellationToken);
        return found.HasValue ? found.Value : null;
    }
}
