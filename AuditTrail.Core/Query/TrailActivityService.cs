using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
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
public sealed class TrailActivityService(TrailStore store, TimeProvider time, IOptions<QueryOptions> options)
{
    // RowKey for ordering is not needed (the partition is the day); these are what Matches reads.
    private static readonly string[] Columns = ["EventTime", "Type", "ProductArea", "ActorId", "ActorType", "ResourceType", "ResourceId"];

    private readonly int _maxParallelDays = options.Value.MaxParallelDays;

    public async Task<Activity> CountAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await store.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        var start = query.Start < now.AddDays(-EventLimits.RetentionDays) ? now.AddDays(-EventLimits.RetentionDays) : query.Start;
        var end = query.End;
        if (start >= end)
        {
            return new Activity(start, end, 0, []);
        }
        query = query with { Start = start };
        var (prefix, serverFilters) = TrailQueryService.Plan(query);
        var lower = prefix + TrailKeys.ReverseTicks(query.End) + "`";
        var upper = prefix + TrailKeys.ReverseTicks(query.Start) + "`";

        var firstDay = DateOnly.FromDateTime(start.UtcDateTime);
        var lastDay = DateOnly.FromDateTime(end.AddTicks(-1).UtcDateTime);
        var withEvents = await DaysWithEventsAsync(query.WorkspaceId, firstDay, lastDay, cancellationToken);

        var counts = new Dictionary<DateOnly, int>();
        // Days are independent scans; bounded like the list's reads so one view cannot open 90 at once.
        await Parallel.ForEachAsync(withEvents, new ParallelOptions { MaxDegreeOfParallelism = _maxParallelDays, CancellationToken = cancellationToken }, async (day, ct) =>
        {
            var count = await CountDayAsync(query, day, lower, upper, serverFilters, ct);
            lock (counts)
            {
                counts[day] = count;
            }
        });

        var days = new List<ActivityDay>(lastDay.DayNumber - firstDay.DayNumber + 1);
        long total = 0;
        for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
        {
            var count = counts.GetValueOrDefault(day);
            total += count;
            days.Add(new ActivityDay(day, count));
        }
        return new Activity(start, end, total, days);
    }

    private async Task<int> CountDayAsync(AuditQuery query, DateOnly day, string lower, string upper, List<string> serverFilters, CancellationToken cancellationToken)
    {
        var partition = TrailKeys.PartitionKey(query.WorkspaceId, day);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {lower} and RowKey lt {upper}");
        foreach (var clause in serverFilters)
        {
            filter += " and " + clause;
        }
        var count = 0;
        await foreach (var row in store.Events.QueryAsync<TableEntity>(filter, maxPerPage: 1000, select: Columns, cancellationToken: cancellationToken))
        {
            if (Matches(row, query))
            {
                count++;
            }
        }
        return count;
    }

    // The same exact check as the list's: an id too long for its key is hashed, and only the stored value decides.
    private static bool Matches(TableEntity row, AuditQuery q)
    {
        var at = row.GetDateTimeOffset("EventTime");
        return at is { } t && t >= q.Start && t < q.End
               && (q.Types.Count == 0 || q.Types.Contains(row.GetString("Type") ?? "", StringComparer.Ordinal))
               && (q.ProductArea is null || row.GetString("ProductArea") == q.ProductArea)
               && (q.ActorId is null || row.GetString("ActorId") == q.ActorId)
               && (q.ActorType is null || row.GetString("ActorType") == q.ActorType)
               && (q.ResourceType is null || row.GetString("ResourceType") == q.ResourceType)
               && (q.ResourceId is null || row.GetString("ResourceId") == q.ResourceId);
    }

    private async Task<List<DateOnly>> DaysWithEventsAsync(string workspaceId, DateOnly first, DateOnly last, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {workspaceId} and RowKey ge {first.ToString("yyyyMMdd", CultureInfo.InvariantCulture)} and RowKey le {last.ToString("yyyyMMdd", CultureInfo.InvariantCulture)}");
        return await store.WorkspaceDays.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken)
            .Select(r => DateOnly.ParseExact(r.RowKey, "yyyyMMdd", CultureInfo.InvariantCulture))
            .ToListAsync(cancellationToken);
    }
}
