using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Query;

/// <summary>Events per UTC day of a filtered view, every day of its window (zero included).</summary>
public sealed record ActivityDay(DateOnly Day, int Count);

public sealed record Activity(DateTimeOffset Start, DateTimeOffset End, long Total, IReadOnlyList<ActivityDay> Days);

/// <summary>
/// Counts a view's events per day from the rows the view itself reads: the same row family
/// (resource, actor or type index, else primary rows) and the same server-side filters as
/// <see cref="TrailQueryService"/>, but projected to the few columns the in-memory check needs,
/// so a day costs a key-range scan of small rows, not of whole events.
/// </summary>
/// <remarks>
/// Counter rows kept at ingest were the alternative. They would have to be written per day and per
/// filter dimension (type, actor, resource, actor kind, area, and their combinations) to answer the
/// same filters, multiplying the writes of every batch, and a shared per-day row is a hot row under
/// concurrent batches. Reading projected index rows answers every filter exactly and needs no write
/// path at all; docs/performance.md has its cost against the first page of the same view.
/// </remarks>
public sealed class TrailActivityService(TrailTables store, TimeProvider time, IOptions<QueryOptions> options)
{
    private readonly int _maxParallelDays = options.Value.MaxParallelDays;

    public async Task<Activity> CountAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await store.EnsureCreatedAsync(cancellationToken);
        var scan = DayScan.Of(query, time.GetUtcNow());
        var (start, end) = (scan.Query.Start, scan.Query.End);
        if (scan.IsEmpty)
        {
            return new Activity(start, end, 0, []);
        }
        var withEvents = await scan.DaysAsync(store.Days, null, cancellationToken);

        var counts = new Dictionary<DateOnly, int>();
        // Days are independent scans; bounded like the list's reads so one view cannot open 90 at once.
        await Parallel.ForEachAsync(withEvents, new ParallelOptions { MaxDegreeOfParallelism = _maxParallelDays, CancellationToken = cancellationToken }, async (day, ct) =>
        {
            var count = await CountDayAsync(scan, day, ct);
            lock (counts)
            {
                counts[day] = count;
            }
        });

        var days = new List<ActivityDay>(scan.LastDay.DayNumber - scan.FirstDay.DayNumber + 1);
        long total = 0;
        for (var day = scan.FirstDay; day <= scan.LastDay; day = day.AddDays(1))
        {
            var count = counts.GetValueOrDefault(day);
            total += count;
            days.Add(new ActivityDay(day, count));
        }
        return new Activity(start, end, total, days);
    }

    // Projected to the columns the exact check reads (the partition is the day, so no RowKey).
    private async Task<int> CountDayAsync(DayScan scan, DateOnly day, CancellationToken cancellationToken)
    {
        var count = 0;
        await foreach (var page in scan.ReadAsync(store.Events, day, null, 1000, EventRows.FacetColumns, cancellationToken))
        {
            foreach (var row in page.Values)
            {
                if (scan.Matches(EventRows.Facets(row)))
                {
                    count++;
                }
            }
        }
        return count;
    }
}
