using System.Diagnostics.Metrics;
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
/// to need are cancelled. What the reads ahead hold is bounded in bytes
/// (<see cref="QueryOptions.MaxReadAheadBytes"/>): a read ahead stops where the next match would pass
/// the budget, and when the page reaches that day it reads on from there (no longer ahead, so
/// unbudgeted: what it reads is the page's own).
/// </remarks>
public sealed class TrailQueryService(TrailStore store, TimeProvider time, IOptions<QueryOptions> options, IMeterFactory? meters = null)
{
    /// <summary>Meter and histogram of the most memory a page's reads ahead held at once (bytes, estimated).</summary>
    public const string MeterName = "AuditTrail.Query";

    public const string ReadAheadPeakInstrument = "audittrail.query.read_ahead.peak";

    private readonly int _maxParallelDays = options.Value.MaxParallelDays;
    private readonly long _maxReadAheadBytes = options.Value.MaxReadAheadBytes;
    private readonly Histogram<long>? _readAheadPeak = meters?.Create(MeterName).CreateHistogram<long>(
        ReadAheadPeakInstrument, "By", "The most memory (estimated) that one page's reads ahead held at once.");

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
        var budget = new ReadAheadBudget(_maxReadAheadBytes);
        var reads = new Dictionary<string, Task<DayRead>>(StringComparer.Ordinal);

        // Adds a day's matches to the page; true once the page (and its look-ahead row) is full.
        bool Fill(List<Match> matches)
        {
            foreach (var match in matches)
            {
                results.Add(match);
                if (results.Count == need)
                {
                    return true;
                }
            }
            return false;
        }

        AuditEventPage Page(bool full)
        {
            _readAheadPeak?.Record(budget.Peak);
            if (!full)
            {
                return new AuditEventPage(results.Select(r => r.Event).ToList(), null);
            }
            var last = results[query.Limit - 1];
            return new AuditEventPage(results.Take(query.Limit).Select(r => r.Event).ToList(), new QueryPosition(last.Day, last.RowKey));
        }

        try
        {
            // The day the page most likely starts in (the continuation's, or the newest one events
            // can have) is read at once. An actor or a resource is usually a small share of a
            // workspace's events, so for those the day before it is read too (ahead, so on the budget).
            var newest = from is not null ? DayStart(from.Day) : DayStart(Min(query.End.AddTicks(-1), now + EventLimits.MaxFutureSkew));
            var sparse = prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal) || prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal);
            var firstDays = sparse && _maxParallelDays > 1 ? 2 : 1;
            for (var d = 0; d < firstDays && newest.AddDays(1 - d) > query.Start; d++)
            {
                var day = Day(newest.AddDays(-d));
                reads[day] = ReadDayAsync(scan, day, need, null, d == 0 ? null : budget, abandon.Token);
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
                        reads.TryAdd(days[j], ReadDayAsync(scan, days[j], missing, null, j == i ? null : budget, abandon.Token));
                    }
                    read = reads[days[i]];
                }
                reads.Remove(days[i]);
                var dayRead = await read;
                // Its matches are the page's now, bounded by the page's limit, not the budget's.
                budget.Release(dayRead.HeldBytes);
                if (Fill(dayRead.Matches))
                {
                    return Page(full: true);
                }
                if (dayRead.Stopped)
                {
                    var rest = await ReadDayAsync(scan, days[i], need - results.Count, dayRead.ResumeAfter, null, abandon.Token);
                    if (Fill(rest.Matches))
                    {
                        return Page(full: true);
                    }
                }
            }
            return Page(full: false);
        }
        finally
        {
            await abandon.CancelAsync();
            await AbandonAsync(reads.Values);
        }
    }

    /// <summary>
    /// One event of the workspace by its id, or null: never stored, not yet fully stored (a claim
    /// whose rows are still being written), or older than the retention window. The id's claim in
    /// <c>AuditEventIds</c> names the primary row, so this is two point reads, never a scan.
    /// </summary>
    public async Task<AuditEvent?> FindAsync(string workspaceId, string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspaceId);
        ArgumentNullException.ThrowIfNull(eventId);
        await store.EnsureCreatedAsync(cancellationToken);
        var claim = await store.EventIds.GetEntityIfExistsAsync<TableEntity>(workspaceId, TrailKeys.Encode(eventId), cancellationToken: cancellationToken);
        if (!claim.HasValue || claim.Value!.GetString("EventPartition") is not { } partition || claim.Value.GetString("EventRow") is not { } rowKey)
        {
            return null;
        }
        var row = await store.Events.GetEntityIfExistsAsync<TableEntity>(partition, rowKey, cancellationToken: cancellationToken);
        if (!row.HasValue)
        {
            return null;
        }
        var e = EventRows.ToEvent(row.Value!);
        // An encoded id can be a hash (very long ids): only the stored id and workspace decide.
        return e.WorkspaceId == workspaceId && e.Id == eventId && e.Timestamp >= time.GetUtcNow().AddDays(-EventLimits.RetentionDays) ? e : null;
    }

    /// <summary>
    /// Waits for reads the page did not need. Their results and failures are not part of the
    /// answer (a storage error in one is already logged by the storage client), but none is left
    /// running once the query returns.
    /// </summary>
    private static async Task AbandonAsync(IEnumerable<Task<DayRead>> reads)
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

    /// <summary>
    /// One day's matches, newest first. <see cref="Stopped"/>: a read ahead that stopped at the
    /// budget; the day goes on after <see cref="ResumeAfter"/> (the last match's row key; null: from
    /// the day's start).
    /// </summary>
    private sealed record DayRead(List<Match> Matches, long HeldBytes, bool Stopped, string? ResumeAfter);

    /// <summary>Bytes the page's reads ahead hold, never past the limit, and the most they held at once.</summary>
    private sealed class ReadAheadBudget(long limit)
    {
        private long _held;
        private long _peak;

        public long Peak => Interlocked.Read(ref _peak);

        public bool TryHold(long bytes)
        {
            while (true)
            {
                var held = Interlocked.Read(ref _held);
                if (held + bytes > limit)
                {
                    return false;
                }
                if (Interlocked.CompareExchange(ref _held, held + bytes, held) == held)
                {
                    long peak;
                    while ((peak = Interlocked.Read(ref _peak)) < held + bytes && Interlocked.CompareExchange(ref _peak, held + bytes, peak) != peak)
                    {
                    }
                    return true;
                }
            }
        }

        public void Release(long bytes) => Interlocked.Add(ref _held, -bytes);
    }

    /// <summary>What every day's range scan shares: the row family, the time bounds and the filters.</summary>
    private sealed record DayScan(AuditQuery Query, QueryPosition? From, string Prefix, List<string> ServerFilters)
    {
        public string Lower { get; } = Prefix + TrailKeys.ReverseTicks(Query.End) + "`"; // exclusive of End: its rows end in "_" < "`"
        public string Upper { get; } = Prefix + TrailKeys.ReverseTicks(Query.Start) + "`"; // inclusive of Start
    }

    /// <summary>
    /// Up to <paramref name="take"/> matching rows of one day, newest first, after
    /// <paramref name="after"/> when given. With a <paramref name="budget"/> (a read ahead), each
    /// match is held on it, and the read stops at the first one it cannot hold.
    /// </summary>
    private async Task<DayRead> ReadDayAsync(DayScan scan, string day, int take, string? after, ReadAheadBudget? budget, CancellationToken cancellationToken)
    {
        var partition = TrailKeys.PartitionKey(scan.Query.WorkspaceId, ParseDay(day));
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {scan.Lower} and RowKey lt {scan.Upper}");
        after ??= scan.From is not null && scan.From.Day == day ? scan.From.AfterRowKey : null;
        if (after is not null)
        {
            filter += TableClient.CreateQueryFilter($" and RowKey gt {after}");
        }
        foreach (var clause in scan.ServerFilters)
        {
            filter += " and " + clause;
        }
        var matches = new List<Match>(Math.Min(take, 1000));
        long held = 0;
        await foreach (var page in store.Events.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(1000, take), cancellationToken: cancellationToken).AsPages())
        {
            foreach (var row in page.Values)
            {
                var e = EventRows.ToEvent(row);
                if (Matches(e, scan.Query))
                {
                    if (budget is not null)
                    {
                        var size = EstimatedBytes(e, row.RowKey);
                        if (!budget.TryHold(size))
                        {
                            return new DayRead(matches, held, Stopped: true, matches.Count > 0 ? matches[^1].RowKey : after);
                        }
                        held += size;
                    }
                    matches.Add(new Match(e, day, row.RowKey));
                    if (matches.Count == take)
                    {
                        return new DayRead(matches, held, Stopped: false, null);
                    }
                }
            }
        }
        return new DayRead(matches, held, Stopped: false, null);
    }

    /// <summary>
    /// The managed memory a held match takes, estimated: its strings as UTF-16 with their object
    /// headers, and the event's and match's objects. Changes and properties dominate a large event.
    /// </summary>
    internal static long EstimatedBytes(AuditEvent e, string rowKey)
    {
        const int StringHeader = 24, Objects = 240;
        static long Text(string? s) => s is null ? 0 : StringHeader + 2L * s.Length;
        return Objects + Text(rowKey) + Text(e.Id) + Text(e.WorkspaceId) + Text(e.Type) + Text(e.ProductArea)
               + Text(e.Actor.Type) + Text(e.Actor.Id) + Text(e.Actor.Name) + Text(e.Actor.Email)
               + Text(e.Resource.Type) + Text(e.Resource.Id) + Text(e.Resource.Name)
               + Text(e.Context?.Ip) + Text(e.Context?.UserAgent) + Text(e.Context?.RequestId)
               + Text(e.Changes) + Text(e.Properties);
    }

    // Days are the registry's row keys (yyyyMMdd, UTC).
    private static string Day(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static DateOnly ParseDay(string day) => DateOnly.ParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture);

    private static DateTimeOffset DayStart(string day) => new(ParseDay(day).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static DateTimeOffset DayStart(DateTimeOffset instant) => new(instant.UtcDateTime.Date, TimeSpan.Zero);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>The row family to scan, and the filters the service can apply to it.</summary>
    internal static (string Prefix, List<string> ServerFilters) Plan(AuditQuery q)
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
