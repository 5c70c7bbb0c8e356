using System.Runtime.Serialization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>
/// One row of <c>AuditEventIds</c>: the claim of an event id in a workspace (PartitionKey the
/// workspace, RowKey the id encoded by <see cref="TrailKeys.Encode"/>), with what the event was
/// stored with, so a replay writes the very same rows and a reused id is told from a duplicate.
/// </summary>
public sealed class EventClaim : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>The id as sent (the row key may be its hash).</summary>
    public string? EventId { get; set; }

    public string? ContentHash { get; set; }

    /// <summary>The primary row's partition and row keys in <c>AuditEvents</c>.</summary>
    public string? EventPartition { get; set; }

    public string? EventRow { get; set; }

    public DateTimeOffset? ReceivedAt { get; set; }

    public string? Door { get; set; }

    /// <summary>The ingest call that made the claim, so its own retry counts it as accepted once.</summary>
    public string? ClaimToken { get; set; }

    /// <summary>
    /// The marks ingest's after-store steps left on the claim (a step's column and its value, e.g.
    /// the ledger partition the event was recorded in): a step with a mark here is done for the event.
    /// </summary>
    [IgnoreDataMember]
    public IReadOnlyDictionary<string, string> Marks { get; set; } = EmptyMarks;

    private static readonly Dictionary<string, string> EmptyMarks = [];

    /// <summary>The claim's own columns: a step's mark may not be one of them.</summary>
    internal static readonly HashSet<string> Columns = [nameof(EventId), nameof(ContentHash), nameof(EventPartition), nameof(EventRow), nameof(ReceivedAt), nameof(Door), nameof(ClaimToken)];

    /// <summary>A new claim of an event about to be stored.</summary>
    public static EventClaim For(AuditEvent e, string contentHash, DateTimeOffset receivedAt, string door, string claimToken) => new()
    {
        PartitionKey = e.WorkspaceId,
        RowKey = TrailKeys.Encode(e.Id),
        EventId = e.Id,
        ContentHash = contentHash,
        EventPartition = EventRows.PartitionKey(e),
        EventRow = TrailKeys.PrimaryRowKey(e.Timestamp, e.Id),
        ReceivedAt = receivedAt,
        Door = door,
        ClaimToken = claimToken,
    };

    // Written as a TableEntity with only the set properties: Table Storage keeps no nulls, and a
    // claim has stored exactly these columns (in this order) since the first version. A new claim
    // has no marks yet.
    internal TableEntity ToEntity() => TableRows.Create(PartitionKey, RowKey,
        (nameof(EventId), EventId), (nameof(ContentHash), ContentHash), (nameof(EventPartition), EventPartition), (nameof(EventRow), EventRow),
        (nameof(ReceivedAt), ReceivedAt), (nameof(Door), Door), (nameof(ClaimToken), ClaimToken));

    /// <summary>A claim as read whole, its marks included.</summary>
    internal static EventClaim From(TableEntity row)
    {
        var marks = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in row)
        {
            if (value is string text && !Columns.Contains(name) && name is not (nameof(PartitionKey) or nameof(RowKey) or "odata.etag"))
            {
                marks[name] = text;
            }
        }
        return new EventClaim
        {
            PartitionKey = row.PartitionKey, RowKey = row.RowKey, Timestamp = row.Timestamp, ETag = row.ETag,
            EventId = row.GetString(nameof(EventId)), ContentHash = row.GetString(nameof(ContentHash)),
            EventPartition = row.GetString(nameof(EventPartition)), EventRow = row.GetString(nameof(EventRow)),
            ReceivedAt = row.GetDateTimeOffset(nameof(ReceivedAt)), Door = row.GetString(nameof(Door)), ClaimToken = row.GetString(nameof(ClaimToken)),
            Marks = marks,
        };
    }
}

/// <summary>
/// <c>AuditEventIds</c>, the append-only guard against id reuse: one claim per (workspace, event
/// id). The only code that reads or writes its rows.
/// </summary>
public sealed class EventClaims
{
    internal EventClaims(TableClient table) => Table = table;

    internal TableClient Table { get; }

    /// <summary>The claim of an id in a workspace, or null.</summary>
    public async Task<EventClaim?> FindAsync(string workspaceId, string eventId, CancellationToken cancellationToken = default)
    {
        var found = await Table.GetEntityIfExistsAsync<TableEntity>(workspaceId, TrailKeys.Encode(eventId), cancellationToken: cancellationToken);
        return found.HasValue ? EventClaim.From(found.Value!) : null;
    }

    /// <summary>Claims ids of one workspace (at most 100) in one transaction: all or none.</summary>
    /// <exception cref="TableTransactionFailedException">Status 409: one of the ids is claimed already.</exception>
    public Task ClaimAllAsync(IEnumerable<EventClaim> claims, CancellationToken cancellationToken = default) =>
        Table.SubmitAsync(claims.Select(c => new TableTransactionAction(TableTransactionActionType.Add, c.ToEntity())).ToList(), cancellationToken);

    /// <exception cref="RequestFailedException">Status 409: the id is claimed already.</exception>
    public Task ClaimAsync(EventClaim claim, CancellationToken cancellationToken = default) =>
        Table.AddEntityAsync(claim.ToEntity(), cancellationToken);

    /// <summary>Replaces a claim as it was read (<paramref name="read"/>'s ETag): an orphaned claim taken over by a new event.</summary>
    /// <exception cref="RequestFailedException">Status 404 or 412: the claim changed or went meanwhile.</exception>
    public Task TakeOverAsync(EventClaim read, EventClaim claim, CancellationToken cancellationToken = default) =>
        Table.UpdateEntityAsync(claim.ToEntity(), read.ETag, TableUpdateMode.Replace, cancellationToken);

    /// <summary>Frees an id whose event storage refused: the claim goes.</summary>
    public Task ReleaseAsync(string workspaceId, string eventId, CancellationToken cancellationToken = default) =>
        Table.DeleteEntityAsync(workspaceId, TrailKeys.Encode(eventId), cancellationToken: cancellationToken);

    /// <summary>
    /// Leaves a step's <paramref name="mark"/> on the claims of events of one workspace (at most 100,
    /// one transaction), each with its value (<see cref="EventClaim.Marks"/>).
    /// </summary>
    public Task MarkAsync(string mark, string workspaceId, IEnumerable<(string EventId, string Value)> events, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(mark);
        if (EventClaim.Columns.Contains(mark))
        {
            throw new ArgumentException($"'{mark}' is a column of the claim itself, not a step's mark.", nameof(mark));
        }
        return Table.SubmitAsync(events.Select(e => new TableTransactionAction(TableTransactionActionType.UpdateMerge,
            new TableEntity(workspaceId, TrailKeys.Encode(e.EventId)) { [mark] = e.Value }, ETag.All)).ToList(), cancellationToken);
    }

    /// <summary>Deletes the claims of these ids of one workspace, 100 per transaction; claims already gone are skipped.</summary>
    public Task DeleteAsync(string workspaceId, IReadOnlyList<string> eventIds, CancellationToken cancellationToken = default) =>
        Table.DeleteRowsAsync(workspaceId, eventIds.Select(TrailKeys.Encode).ToList(), cancellationToken);

    /// <summary>
    /// A workspace's claims received before <paramref name="cutoff"/>, page by page, with their keys
    /// and the primary row they name (a filtered read of the claims partition).
    /// </summary>
    public IAsyncEnumerable<Page<EventClaim>> ReceivedBeforeAsync(string workspaceId, DateTimeOffset cutoff, CancellationToken cancellationToken = default) =>
        Table.QueryAsync<EventClaim>(
            TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and ReceivedAt lt {cutoff}"), maxPerPage: 1000,
            select: [nameof(EventClaim.PartitionKey), nameof(EventClaim.RowKey), nameof(EventClaim.EventPartition), nameof(EventClaim.EventRow)],
            cancellationToken: cancellationToken).AsPages();

    /// <summary>Deletes claims as they were read; one changed since (taken over meanwhile) or gone stays. Returns how many went.</summary>
    public Task<int> DeleteUnchangedAsync(IReadOnlyList<EventClaim> claims, CancellationToken cancellationToken = default) =>
        Table.DeleteUnchangedAsync(claims, cancellationToken);

    /// <summary>The ids of a workspace's claims whose id starts with <paramref name="prefix"/>.</summary>
    public IAsyncEnumerable<string> IdsStartingWithAsync(string workspaceId, string prefix, CancellationToken cancellationToken = default) =>
        Table.QueryAsync<EventClaim>(
                TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and EventId ge {prefix} and EventId lt {prefix + "\uffff"}"),
                select: [nameof(EventClaim.EventId)], cancellationToken: cancellationToken)
            .Select(c => c.EventId!);
}
