using System.Diagnostics.Metrics;
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
public sealed class TrailQueryService(TrailTables store, TimeProvider time, IOptions<QueryOptions> options, IMeterFactory? meters = null)
{
    /// <summary>Meter and histogram of the most memory a page's reads ahead held at once (bytes, estimated).</summary>
    public const string MeterName = "AuditTrail.Query";

    public const string ReadAheadPeakInstrument = "audittrail.query.read_ahead.peak";

    private readonly int _maxParallelDays = options.Value.MaxParallelDays;
    private readonly long _maxReadAheadBytes = options.Value.MaxReadAheadBytes;
    private readonly Histogram<long>? _readAheadPeak = meters?.Create(MeterName).CreateHistogram<long>(
        ReadAheadPeakInstrument, "By", "The most memory (estimated) that one page's reads ahead held at once.");

    private TrailTables Store => store;

    public async Task<AuditEventPage> QueryAsync(AuditQuery query, QueryPosition? from, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        var scan = DayScan.Of(query, now);
        if (scan.IsEmpty)
        {
            return new AuditEventPage([], null);
        }
        var page = new PageRead(this, scan, from, now, cancellationToken);
        try
        {
            return await page.ReadAsync();
        }
        finally
        {
            await page.AbandonAsync();
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
        var claim = await store.Claims.FindAsync(workspaceId, eventId, cancellationToken);
        if (claim?.EventPartition is not { } partition || claim.EventRow is not { } rowKey)
        {
            return null;
        }
        if (await store.Events.FindAsync(partition, rowKey, cancellationToken) is not { Event: var e })
        {
            return null;
        }
        // An encoded id can be a hash (very long ids): only the stored id and workspace decide.
        return e.WorkspaceId == workspaceId && e.Id == eventId && e.Timestamp >= time.GetUtcNow().AddDays(-EventLimits.RetentionDays) ? e : null;
    }

    private sealed record Match(AuditEvent Event, DateOnly Day, string RowKey);

    /// <summary>
    /// One day's matches, newest first. <see cref="Stopped"/>: a read ahead that stopped at the
    /// budget; the day goes on after <see cref="ResumeAfter"/> (the last match's row key; null: from
    /// the day's start).
    /// </summary>
    private sealed record DayRead(List<Match> Matches, long HeldBytes, bool Stopped, string? ResumeAfter);

    /// <summary>
    /// One page being read: its matches so far, the days' reads under way (keyed by day), and what
    /// the reads ahead hold. Reads the page turns out not to need are cancelled by <see cref="AbandonAsync"/>.
    /// </summary>
    private sealed class PageRead
    {
        private readonly TrailQueryService _service;
        private readonly DayScan _scan;
        private readonly QueryPosition? _from;
        private readonly DateOnly? _fromDay;
        private readonly DateTimeOffset _now;
        private readonly CancellationToken _cancellationToken;
        private readonly int _need;
        private readonly List<Match> _results;
        private readonly CancellationTokenSource _abandon;
        private readonly ReadAheadBudget _budget;
        private readonly Dictionary<DateOnly, Task<DayRead>> _reads = [];

        public PageRead(TrailQueryService service, DayScan scan, QueryPosition? from, DateTimeOffset now, CancellationToken cancellationToken)
        {
            _service = service;
            _scan = scan;
            _from = from;
            _fromDay = from is null ? null : DayKeys.Parse(from.Day);
            _now = now;
            _cancellationToken = cancellationToken;
            _need = scan.Query.Limit + 1;
            _results = new List<Match>(_need);
            _abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _budget = new ReadAheadBudget(service._maxReadAheadBytes);
        }

        public async Task<AuditEventPage> ReadAsync()
        {
            StartNewestDays();
            var days = await _scan.DaysAsync(_service.Store.Days, _fromDay, _cancellationToken);
            days.Reverse(); // newest first
            var coveredFrom = _fromDay is { } fromDay ? DayKeys.Start(fromDay).AddDays(1) : Min(_scan.Query.End, _now + EventLimits.MaxFutureSkew);
            for (var i = 0; i < days.Count; i++)
            {
                if (!_reads.TryGetValue(days[i], out var read))
                {
                    ReadAhead(days, i, coveredFrom);
                    read = _reads[days[i]];
                }
                _reads.Remove(days[i]);
                var dayRead = await read;
                // Its matches are the page's now, bounded by the page's limit, not the budget's.
                _budget.Release(dayRead.HeldBytes);
                if (Fill(dayRead.Matches))
                {
                    return Page(full: true);
                }
                if (dayRead.Stopped && Fill((await ReadDayAsync(days[i], _need - _results.Count, dayRead.ResumeAfter, null)).Matches))
                {
                    return Page(full: true);
                }
            }
            return Page(full: false);
        }

        /// <summary>
        /// Waits for reads the page did not need. Their results and failures are not part of the
        /// answer (a storage error in one is already logged by the storage client), but none is left
        /// running once the query returns.
        /// </summary>
        public async Task AbandonAsync()
        {
            await _abandon.CancelAsync();
            foreach (var read in _reads.Values)
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
            _abandon.Dispose();
        }

        /// <summary>
        /// The day the page most likely starts in (the continuation's, or the newest one events can
        /// have) is read at once, alongside the registry lookup. An actor or a resource is usually a
        /// small share of a workspace's events, so for those the day before it is read too (ahead, so
        /// on the budget).
        /// </summary>
        private void StartNewestDays()
        {
            var newest = _fromDay is { } fromDay ? DayKeys.Start(fromDay) : DayStart(Min(_scan.Query.End.AddTicks(-1), _now + EventLimits.MaxFutureSkew));
            var firstDays = _scan.IsSparse && _service._maxParallelDays > 1 ? 2 : 1;
            for (var d = 0; d < firstDays && newest.AddDays(1 - d) > _scan.Query.Start; d++)
            {
                var day = DayKeys.Day(newest.AddDays(-d));
                _reads[day] = ReadDayAsync(day, _need, null, d == 0 ? null : _budget);
            }
        }

        /// <summary>
        /// Starts reading day <paramref name="i"/> and, ahead, enough days after it for the matches
        /// still missing at the rate the days read so far had (none matching: as many as allowed).
        /// Before any, just one.
        /// </summary>
        private void ReadAhead(List<DateOnly> days, int i, DateTimeOffset coveredFrom)
        {
            var missing = _need - _results.Count;
            var perDay = i == 0 ? 0 : _results.Count / Math.Max((coveredFrom - DayKeys.Start(days[i - 1])).TotalDays, 1.0 / 24);
            var ahead = i == 0 ? 1 : perDay <= 0 ? _service._maxParallelDays : (int)Math.Ceiling(missing / perDay);
            for (var j = i; j < days.Count && j < i + Math.Clamp(ahead, 1, _service._maxParallelDays); j++)
            {
                _reads.TryAdd(days[j], ReadDayAsync(days[j], missing, null, j == i ? null : _budget));
            }
        }

        // Adds a day's matches to the page; true once the page (and its look-ahead row) is full.
        private bool Fill(List<Match> matches)
        {
            foreach (var match in matches)
            {
                _results.Add(match);
                if (_results.Count == _need)
                {
                    return true;
                }
            }
            return false;
        }

        private AuditEventPage Page(bool full)
        {
            _service._readAheadPeak?.Record(_budget.Peak);
            if (!full)
            {
                return new AuditEventPage(_results.Select(r => r.Event).ToList(), null);
            }
            var last = _results[_scan.Query.Limit - 1];
            return new AuditEventPage(_results.Take(_scan.Query.Limit).Select(r => r.Event).ToList(), new QueryPosition(DayKeys.Of(last.Day), last.RowKey));
        }

        /// <summary>
        /// Up to <paramref name="take"/> matching rows of one day, newest first, after
        /// <paramref name="after"/> when given. With a <paramref name="budget"/> (a read ahead), each
        /// match is held on it, and the read stops at the first one it cannot hold.
        /// </summary>
        private async Task<DayRead> ReadDayAsync(DateOnly day, int take, string? after, ReadAheadBudget? budget)
        {
            after ??= _fromDay == day ? _from!.AfterRowKey : null;
            var matches = new List<Match>(Math.Min(take, 1000));
            long held = 0;
            await foreach (var page in _scan.ReadAsync(_service.Store.Events, day, after, Math.Min(1000, take), null, _abandon.Token))
            {
                foreach (var row in page.Values)
                {
                    var e = EventRows.ToEvent(row);
                    if (!_scan.Matches(EventFacets.Of(e)))
                    {
                        continue;
                    }
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
            return new DayRead(matches, held, Stopped: false, null);
        }
    }

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

    private static DateTimeOffset DayStart(DateTimeOffset instant) => new(instant.UtcDateTime.Date, TimeSpan.Zero);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
