using AuditTrail.Core.Storage;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>
/// Which workspace-days hold events, kept twice: <c>AuditPartitions</c> (PartitionKey the day,
/// RowKey the workspace) for retention, which asks for every day before a cut-off, and
/// <c>AuditWorkspaceDays</c> (PartitionKey the workspace, RowKey the day) for the views, which ask
/// for one workspace's days in a window. Days are <see cref="DayKeys"/>. Rows have no properties
/// besides their keys. The only code that reads or writes either table.
/// </summary>
public sealed class WorkspaceDays
{
    private const int Parallelism = 8;

    internal WorkspaceDays(TableClient byDay, TableClient byWorkspace)
    {
        ByDay = byDay;
        ByWorkspace = byWorkspace;
    }

    internal TableClient ByDay { get; }

    internal TableClient ByWorkspace { get; }

    /// <summary>
    /// Registers workspace-days in both registries: one transaction per registry partition, 100
    /// rows at most each, several at once. Registering a day twice is harmless.
    /// </summary>
    public async Task RegisterAsync(IReadOnlyCollection<(string WorkspaceId, DateOnly Day)> days, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(days);
        var keyed = days.Select(d => (Day: DayKeys.Of(d.Day), Workspace: d.WorkspaceId)).ToList();
        var byDay = keyed.GroupBy(p => p.Day).SelectMany(day => day.Chunk(TableTransactions.MaxActions))
            .Select(chunk => (ByDay, chunk.Select(p => new TableEntity(p.Day, p.Workspace)).ToList()));
        var byWorkspace = keyed.GroupBy(p => p.Workspace).SelectMany(ws => ws.Chunk(TableTransactions.MaxActions))
            .Select(chunk => (ByWorkspace, chunk.Select(p => new TableEntity(p.Workspace, p.Day)).ToList()));
        await Parallel.ForEachAsync(byDay.Concat(byWorkspace).ToList(), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (work, ct) =>
        {
            var (table, entities) = work;
            await table.SubmitAsync(entities.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e)).ToList(), ct);
        });
    }

    /// <summary>The workspace's days with events from <paramref name="first"/> to <paramref name="last"/> (both included), oldest first: one range read.</summary>
    public async Task<List<DateOnly>> ListAsync(string workspaceId, DateOnly first, DateOnly last, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge {DayKeys.Of(first)} and RowKey le {DayKeys.Of(last)}");
        return await ByWorkspace.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => DayKeys.Parse(r.RowKey))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Every workspace-day before <paramref name="firstKept"/>: one range read of the by-day registry.</summary>
    public async Task<List<(string WorkspaceId, DateOnly Day)>> ListBeforeAsync(DateOnly firstKept, CancellationToken cancellationToken = default) =>
        await ByDay.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey lt {DayKeys.Of(firstKept)}"), select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Select(r => (WorkspaceId: r.RowKey, Day: DayKeys.Parse(r.PartitionKey)))
            .ToListAsync(cancellationToken);

    /// <summary>Forgets a workspace-day: the views' registry first, retention's last, so a run cut off midway finds the day again.</summary>
    public async Task DeleteAsync(string workspaceId, DateOnly day, CancellationToken cancellationToken = default)
    {
        var key = DayKeys.Of(day);
        await ByWorkspace.DeleteEntityAsync(workspaceId, key, cancellationToken: cancellationToken);
        await ByDay.DeleteEntityAsync(key, workspaceId, cancellationToken: cancellationToken);
    }
}
