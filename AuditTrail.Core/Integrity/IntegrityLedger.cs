using System.Collections.Concurrent;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Integrity;

/// <summary>What the ledger records of one stored event.</summary>
public sealed record LedgerItem(string WorkspaceId, string EventId, byte[] RowHash, string EventPartition, string EventRow);

/// <summary>
/// The append-only ledger in ingestion order: each stored event once, with the hash of its stored
/// row (<see cref="RowHash"/>), in partition <c>{workspace}_{yyyyMMddHH}</c> of the time it is
/// recorded. Ingest records an event after its rows are written and before the batch is
/// acknowledged, then marks the event's claim (<c>Ledger</c> = the partition), so a replay of a
/// complete event records nothing; one that failed between rows and ledger is recorded by the replay.
/// Entries are inserted, never replaced: a sealed entry cannot move.
/// </summary>
public sealed class IntegrityLedger(IntegrityStore store, TimeProvider time)
{
    private const int MaxRegisteredCached = 100_000;
    private readonly ConcurrentDictionary<(string Hour, string Workspace), byte> _registered = new();

    /// <summary>Records the events; returns, per event, the ledger partition it is in.</summary>
    public async Task<IReadOnlyList<(LedgerItem Item, string Partition)>> RecordAsync(IReadOnlyList<LedgerItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            return [];
        }
        await store.EnsureCreatedAsync(cancellationToken);
        // Read just before the writes: the sealing delay is measured from here, so it need only
        // outlast the write itself.
        var recordedAt = time.GetUtcNow();
        var hour = IntegrityStore.Hour(recordedAt);
        await RegisterAsync(hour, items.Select(i => i.WorkspaceId).Distinct(StringComparer.Ordinal), cancellationToken);
        var placed = items.Select(i => (Item: i, Partition: IntegrityStore.LedgerPartition(i.WorkspaceId, recordedAt))).ToList();
        var chunks = placed.GroupBy(p => p.Partition, StringComparer.Ordinal).SelectMany(g => g.Chunk(TableTransactions.MaxActions)).ToList();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (chunk, ct) =>
        {
            try
            {
                await store.Ledger.SubmitAsync(chunk.Select(p => new TableTransactionAction(TableTransactionActionType.Add, Entry(p.Item, p.Partition, recordedAt))).ToList(), ct);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409)
            {
                // Some are there already (a retry of this same write): add the others one by one.
                foreach (var (item, partition) in chunk)
                {
                    try
                    {
                        await store.Ledger.AddEntityAsync(Entry(item, partition, recordedAt), ct);
                    }
                    catch (RequestFailedException one) when (one.Status == 409)
                    {
                    }
                }
            }
        });
        return placed;
    }

    private static TableEntity Entry(LedgerItem item, string partition, DateTimeOffset recordedAt) => new(partition, TrailKeys.Encode(item.EventId))
    {
        ["EventId"] = item.EventId,
        ["WorkspaceId"] = item.WorkspaceId,
        ["RowHash"] = Convert.ToHexStringLower(item.RowHash),
        ["RecordedAt"] = recordedAt,
        ["EventPartition"] = item.EventPartition,
        ["EventRow"] = item.EventRow,
    };

    private async Task RegisterAsync(string hour, IEnumerable<string> workspaces, CancellationToken cancellationToken)
    {
        var missing = workspaces.Where(w => !_registered.ContainsKey((hour, w))).ToList();
        foreach (var chunk in missing.Chunk(TableTransactions.MaxActions))
        {
            await store.Ledger.SubmitAsync(chunk.Select(w => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(IntegrityStore.RegistryPrefix + hour, w))).ToList(), cancellationToken);
        }
        if (_registered.Count > MaxRegisteredCached)
        {
            _registered.Clear();
        }
        foreach (var w in missing)
        {
            _registered.TryAdd((hour, w), 0);
        }
    }
}
