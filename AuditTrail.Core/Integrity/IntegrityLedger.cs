using System.Collections.Concurrent;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;

namespace AuditTrail.Core.Integrity;

/// <summary>What the ledger records of one stored event.</summary>
public sealed record LedgerItem(string WorkspaceId, string EventId, byte[] RowHash, string EventPartition, string EventRow);

/// <summary>
/// The append-only ledger in ingestion order: each stored event once, with the hash of its stored
/// row (<see cref="RowHash"/>), in partition <c>{workspace}_{yyyyMMddHH}</c> of the time it is
/// recorded. Ingest records an event after its rows are written and before the batch is
/// acknowledged, then marks the event's claim (<c>Ledger</c> = the partition), so a replay of a
/// complete event records nothing; one that failed between rows and ledger is recorded by the replay.
/// Entries are inserted, never replaced: a sealed entry cannot move. Ingest runs it as its first
/// after-store step (<see cref="IAfterStoreStep"/>), whose claim mark is that partition.
/// </summary>
public sealed class IntegrityLedger(IntegrityStore store, TimeProvider time) : IAfterStoreStep
{
    /// <summary>The claim column that says the event is in the ledger: the ledger partition it is in.</summary>
    public const string ClaimMarkColumn = "Ledger";

    private const int MaxRegisteredCached = 100_000;

    // An entry seen missing, then added by another writer before this one's retry, costs a round.
    private const int MaxAddRounds = 4;
    private readonly ConcurrentDictionary<(string Hour, string Workspace), byte> _registered = new();

    string? IAfterStoreStep.ClaimMark => ClaimMarkColumn;

    /// <summary>Records the stored events not yet in the ledger, each with the hash of its primary row as written.</summary>
    async Task<IReadOnlyList<MarkedEvent>> IAfterStoreStep.RunAsync(IReadOnlyList<StoredEvent> stored, CancellationToken cancellationToken)
    {
        var placed = await RecordAsync(stored.Select(s => new LedgerItem(
            s.Event.WorkspaceId, s.Event.Id, RowHash.Compute(s.PrimaryRow), s.PrimaryRow.PartitionKey, s.PrimaryRow.RowKey)).ToList(), cancellationToken);
        // RecordAsync answers in the order it was given.
        return placed.Select((p, i) => new MarkedEvent(stored[i], p.Partition)).ToList();
    }

    /// <summary>Records the events; returns, per event in the order given, the ledger partition it is in.</summary>
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
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) => await store.Ledger.AddMissingAsync(chunk.Select(p => LedgerEntries.Entry(p.Item, p.Partition, recordedAt)).ToList(), MaxAddRounds, ct));
        return placed;
    }

    private async Task RegisterAsync(string hour, IEnumerable<string> workspaces, CancellationToken cancellationToken)
    {
        var missing = workspaces.Where(w => !_registered.ContainsKey((hour, w))).ToList();
        await store.Ledger.RegisterAsync(hour, missing, cancellationToken);
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
