using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>A stored event as read back by its primary row, with when the trail received it.</summary>
public sealed record FoundEvent(AuditEvent Event, DateTimeOffset? ReceivedAt);

/// <summary>
/// Table <c>AuditEvents</c>: every event's primary and index rows (layout: <see cref="EventRows"/>
/// and <see cref="TrailKeys"/>). Point reads, one day's key-range scans, writes and deletes.
/// </summary>
public sealed class EventTable
{
    internal EventTable(TableClient table) => Table = table;

    internal TableClient Table { get; }

    /// <summary>The table's address, for measuring a transaction's request before it is sent.</summary>
    public Uri Uri => Table.Uri;

    /// <summary>Writes rows of one partition in one entity-group transaction (<see cref="TableTransactions.SubmitAsync"/>).</summary>
    public Task SubmitAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default) =>
        Table.SubmitAsync(actions, cancellationToken);

    /// <summary>The event of a primary row, or null when there is no such row.</summary>
    public async Task<FoundEvent?> FindAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        var row = await Table.FindAsync(partitionKey, rowKey, cancellationToken);
        return row is null ? null : new FoundEvent(EventRows.ToEvent(row), EventRows.ReceivedAt(row));
    }

    /// <summary>
    /// Whether the primary row a claim names is there: false for a claim whose rows were never
    /// written; null when the claim does not name one.
    /// </summary>
    public async Task<bool?> PrimaryRowExistsAsync(EventClaim claim, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(claim);
        if (claim.EventPartition is not { } partition || claim.EventRow is not { } row)
        {
            return null;
        }
        return await Table.FindAsync(partition, row, cancellationToken) is not null;
    }

    /// <summary>
    /// One day partition's rows with keys from <paramref name="lower"/> (included) to
    /// <paramref name="upper"/> (excluded), after <paramref name="after"/> when given, that pass the
    /// server-side <paramref name="filters"/> (<see cref="EventRows.EqualsFilter"/>), page by page;
    /// with <paramref name="select"/>, only those columns come back.
    /// </summary>
    public IAsyncEnumerable<Page<TableEntity>> ScanAsync(string partitionKey, string lower, string upper, string? after, IReadOnlyList<string> filters,
        int maxPerPage, IEnumerable<string>? select, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {lower} and RowKey lt {upper}");
        if (after is not null)
        {
            filter += TableClient.CreateQueryFilter($" and RowKey gt {after}");
        }
        foreach (var clause in filters)
        {
            filter += " and " + clause;
        }
        return Table.QueryAsync<TableEntity>(filter, maxPerPage: maxPerPage, select: select, cancellationToken: cancellationToken).AsPages();
    }

    /// <summary>Every row of one partition, whole, as stored (for checking rows against what was recorded of them).</summary>
    public IAsyncEnumerable<TableEntity> PartitionAsync(string partitionKey, CancellationToken cancellationToken = default) =>
        Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), maxPerPage: 1000, cancellationToken: cancellationToken);

    /// <summary>
    /// A whole partition's row keys, page by page, with the event ids of its primary rows (one per
    /// event): what a purge deletes, without the events themselves.
    /// </summary>
    public async IAsyncEnumerable<(IReadOnlyList<string> RowKeys, IReadOnlyList<string> EventIds)> KeysAsync(
        string partitionKey, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var page in Table.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), maxPerPage: 1000, select: EventRows.IdColumns, cancellationToken: cancellationToken).AsPages())
        {
            var ids = page.Values.Where(r => r.RowKey.StartsWith(TrailKeys.PrimaryPrefix, StringComparison.Ordinal) && EventRows.EventId(r) is not null)
                .Select(r => EventRows.EventId(r)!).ToList();
            yield return (page.Values.Select(r => r.RowKey).ToList(), ids);
        }
    }

    /// <summary>Deletes rows of one partition, 100 per transaction; rows already gone are skipped.</summary>
    public Task DeleteAsync(string partitionKey, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken = default) =>
        Table.DeleteRowsAsync(partitionKey, rowKeys, cancellationToken);
}
