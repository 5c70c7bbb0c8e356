using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Query;

/// <summary>
/// Reads a filtered page of a workspace's trail, newest first. It walks the workspace's days that
/// hold events (from <c>AuditWorkspaceDays</c>), newest first, with one range scan per day over
/// the most selective row family — resource, actor or type index, else primary rows — and stops
/// as soon as the page (plus one look-ahead row, so the last page has no nextLink) is full.
/// Remaining filters run server-side as OData comparisons of quoted literals, and every row is
/// checked again in memory, so hashed keys and hostile values can only ever match exactly.
/// </summary>
/// <remarks>
/// Latency is round trips, so the days are not read one after another. The newest day is read
/// alongside the registry lookup (for most queries it fills the page). When a day comes up short,
/// the next days are read in parallel, as many as the matches seen so far say are needed (at most
/// <see cref="QueryOptions.MaxParallelDays"/>), and consumed in order; reads the page turns out not
/// to need are cancelled.
/// </remarks>
public sealed class TrailQueryService(TrailStore store, TimeProvider time, IOptions<QueryOptions> options)
{
    private readonly int _maxParallelDays = options.Value.MaxParallelDays;

    public async Task<AuditEventPage> QueryAsync(AuditQuery query, QueryPosition? from, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        // Retention is applied here, at read time, not by rewriting the query: the query (and so the
        // fingerprint its continuation is bound to) must stay the same from page to page while the
        // retention window moves on.
        var retentionStart = now.AddDays(-EventLimits.RetentionDays);
        if (query.Start < retentionStart)
        {
            query = query with { Start = retentionStart };
        }
        if (query.Start >= query.End)
        {
            return new AuditEventPage([], null);
        }
        var (prefix, serverFilters) = Plan(query);
        var scan = new DayScan(query, from, prefix, serverFilters);
        var need = query.Limit + 1;
        var results = new List<Match>(need);

        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reads = new Dictionary<string, Task<List<Match>>>(StringComparer.Ordinal);
        try
        {
            // The day the page most likely starts in (the continuation's, or the newest one events
            // can have) is read at once. An actor or a resource is usually a small share of a
            // workspace's events, so for those the day before it is read too.
            var newest = from is not null ? DayStart(from.Day) : DayStart(Min(query.End.AddTicks(-1), now + EventLimits.MaxFutureSkew));
            var sparse = prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal) || prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal);
            var firstDays = sparse && _maxParallelDays > 1 ? 2 : 1;
            for (var d = 0; d < firstDays && newest.AddDays(1 - d) > query.Start; d++)
            {
                var day = Day(newest.AddDays(-d));
                reads[day] = ReadDayAsync(scan, day, need, abandon.Token);
            }
            var days = await DaysAsync(query, from?.Day, cancellationToken);

            var coveredFrom = from is null ? Min(query.End, now + EventLimits.MaxFutureSkew) : DayStart(from.Day).AddDays(1);
            for (var i = 0; i < days.Count; i++)
            {
                if (!reads.TryGetValue(days[i], out var read))
                {
                    // Read ahead: enough days for the matches still missing at the rate the days
                    // read so far had (none matching: as many as allowed). Before any, just one.
                    var missing = need - results.Count;
                    var perDay = i == 0 ? 0 : results.Count / Math.Max((coveredFrom - DayStart(days[i - 1])).TotalDays, 1.0 / 24);
                    var ahead = i == 0 ? 1 : perDay <= 0 ? _maxParallelDays : (int)Math.Ceiling(missing / perDay);
                    for (var j = i; j < days.Count && j < i + Math.Clamp(ahead, 1, _maxParallelDays); j++)
                    {
                        reads.TryAdd(days[j], ReadDayAsync(scan, days[j], missing, abandon.Token));
                    }
                    read = reads[days[i]];
                }
                reads.Remove(days[i]);
                foreach (var match in await read)
                {
                    results.Add(match);
                    if (results.Count == need)
                    {
                        var last = results[query.Limit - 1];
                        return new AuditEventPage(results.Take(query.Limit).Select(r => r.Event).ToList(), new QueryPosition(last.Day, last.RowKey));
                    }
                }
            }
            return new AuditEventPage(results.Select(r => r.Event).ToList(), null);
        }
        finally
        {
            await abandon.CancelAsync();
            await AbandonAsync(reads.Values);
        }
    }

    /// <summary>
    /// Waits for reads the page did not need. Their results and failures are not part of the
    /// answer (a storage error in one is already logged by the storage client), but none is left
    /// running once the query returns.
    /// </summary>
    private static async Task AbandonAsync(IEnumerable<Task<List<Match>>> reads)
    {
        foreach (var read in reads)
        {
            try
            {
                await read;
            }
            catch (Exception ex) when (ex is RequestFailedException || StorageFailures.IsUnavailable(ex))
            {
                // Not needed for this page: see above.
            }
        }
    }

    private sealed record Match(AuditEvent Event, string Day, string RowKey);

    /// <summary>What every day's range scan shares: the row family, the time bounds and the filters.</summary>
    private sealed record DayScan(AuditQuery Query, QueryPosition? From, string Prefix, List<string> ServerFilters)
    {
        public string Lower { get; } = Prefix + TrailKeys.ReverseTicks(Query.End) + "`"; // exclusive of End: its rows end in "_" < "`"
        public string Upper { get; } = Prefix + TrailKeys.ReverseTicks(Query.Start) + "`"; // inclusive of Start
    }

    /// <summary>Up to <paramref name="take"/> matching rows of one day, newest first.</summary>
    private async Task<List<Match>> ReadDayAsync(DayScan scan, string day, int take, CancellationToken cancellationToken)
    {
        var partition = TrailKeys.PartitionKey(scan.Query.WorkspaceId, ParseDay(day));
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {scan.Lower} and RowKey lt {scan.Upper}");
        if (scan.From is not null && scan.From.Day == day)
        {
            filter += TableClient.CreateQueryFilter($" and RowKey gt {scan.From.AfterRowKey}");
        }
        foreach (var clause in scan.ServerFilters)
        {
            filter += " and " + clause;
        }
        var matches = new List<Match>(Math.Min(take, 1000));
        await foreach (var page in store.Events.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(1000, take), cancellationToken: cancellationToken).AsPages())
        {
            foreach (var row in page.Values)
            {
                var e = EventRows.ToEvent(row);
                if (Matches(e, scan.Query))
                {
                    matches.Add(new Match(e, day, row.RowKey));
                    if (matches.Count == take)
                    {
                        return matches;
                    }
                }
            }
        }
        return matches;
    }

    // Days are the registry's row keys (yyyyMMdd, UTC).
    private static string Day(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static DateOnly ParseDay(string day) => DateOnly.ParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture);

    private static DateTimeOffset DayStart(string day) => new(ParseDay(day).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static DateTimeOffset DayStart(DateTimeOffset instant) => new(instant.UtcDateTime.Date, TimeSpan.Zero);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>The row family to scan, and the filters the service can apply to it.</summary>
    private static (string Prefix, List<string> ServerFilters) Plan(AuditQuery q)
    {
        var filters = new List<string>();
        string prefix;
        if (q.ResourceType is not null && q.ResourceId is not null)
        {
            prefix = TrailKeys.ResourcePrefixFor(q.ResourceType, q.ResourceId);
        }
        else if (q.ActorId is not null)
        {
            prefix = TrailKeys.ActorPrefixFor(q.ActorId);
        }
        else if (q.Types.Count == 1)
        {
            prefix = TrailKeys.TypePrefixFor(q.Types[0]);
        }
        else
        {
            prefix = TrailKeys.PrimaryPrefix;
        }

        void Add(string property, string? value)
        {
            if (value is not null)
            {
                // The property name is the code's; only the value comes from the caller, and it is quoted.
                filters.Add(property + " eq " + TableClient.CreateQueryFilter($"{value}"));
            }
        }
        if (!prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal))
        {
            Add("ActorId", q.ActorId);
        }
        if (!prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal))
        {
            Add("ResourceType", q.ResourceType);
            Add("ResourceId", q.ResourceId);
        }
        if (q.Types.Count == 1 && !prefix.StartsWith(TrailKeys.TypePrefix, StringComparison.Ordinal))
        {
            Add("Type", q.Types[0]);
        }
        Add("ActorType", q.ActorType);
        Add("ProductArea", q.ProductArea);
        return (prefix, filters);
    }

    private static bool Matches(AuditEvent e, AuditQuery q) =>
        e.Timestamp >= q.Start && e.Timestamp < q.End
        && (q.Types.Count == 0 || q.Types.Contains(e.Type, StringComparer.Ordinal))
        && (q.ProductArea is null || e.ProductArea == q.ProductArea)
        && (q.ActorId is null || e.Actor.Id == q.ActorId)
        && (q.ActorType is null || e.Actor.Type == q.ActorType)
        && (q.ResourceType is null || e.Resource.Type == q.ResourceType)
        && (q.ResourceId is null || e.Resource.Id == q.ResourceId);

    /// <summary>The workspace's days with events inside the window, newest first, starting at <paramref name="fromDay"/>.</summary>
    private async Task<List<string>> DaysAsync(AuditQuery q, string? fromDay, CancellationToken cancellationToken)
    {
        var first = Day(q.Start);
        var last = fromDay ?? Day(q.End.AddTicks(-1));
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {q.WorkspaceId} and RowKey ge {first} and RowKey le {last}");
        var days = await store.WorkspaceDays.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => r.RowKey).ToListAsync(cancellationToken);
        days.Sort((a, b) => string.CompareOrdinal(b, a));
        return days;
    }
}
