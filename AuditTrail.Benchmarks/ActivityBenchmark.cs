using AuditTrail.Core.Query;
using Microsoft.Extensions.Options;

namespace AuditTrail.Benchmarks;

/// <summary>
/// The page's activity chart against its list: for each filter kind, the per-day counts of a
/// 90-day view (<see cref="TrailActivityService"/>, one projected range scan per day that holds
/// events) against the first page (limit 50) of the same view (<see cref="TrailQueryService"/>),
/// measured interleaved in the same run on the same seeded workspace. Figures: p50 and p95 of each
/// and the activity's as ratios to the page's.
/// </summary>
/// <remarks>
/// As in <see cref="QueryBenchmark"/>: Azurite scans the whole table for every query, so on it the
/// cost is the number of queries; <c>latencyMs</c> holds every measured storage request that long,
/// a round trip to a service that answers a partition range query in index time.
/// </remarks>
public static class ActivityBenchmark
{
    private const int PageSize = 50;

    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, int events, int repetitions, TextWriter log, CancellationToken ct, int latencyMs = 0, int days = 89)
    {
        using var trail = await SeededTrail.CreateAsync(clients, events, days, latencyMs, log, ct);
        var options = Options.Create(new QueryOptions());
        var queries = new TrailQueryService(trail.Store, trail.Clock, options);
        var activity = new TrailActivityService(trail.Store, trail.Clock, options);

        var results = new JsonArray();
        // The page's own filters: the chart is drawn for those.
        foreach (var (name, query) in trail.FilterKinds(PageSize).Take(4))
        {
            await queries.QueryAsync(query, null, ct); // warm
            var counted = (await activity.CountAsync(query, ct)).Total;
            var times = await SeededTrail.TimeInterleavedAsync(repetitions,
                () => queries.QueryAsync(query, null, ct),
                () => activity.CountAsync(query, ct));
            var ((pp50, pp95), (ap50, ap95)) = (times[0], times[1]);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-10} activity p50 {ap50,8:F1} ms p95 {ap95,8:F1} ms | first page p50 {pp50,7:F1} ms p95 {pp95,7:F1} ms | ratio p50 {ap50 / pp50:F2} p95 {ap95 / pp95:F2} ({counted} events counted)"));
            results.Add(new JsonObject
            {
                ["filter"] = name,
                ["eventsCounted"] = counted,
                ["activityP50Ms"] = Math.Round(ap50, 2),
                ["activityP95Ms"] = Math.Round(ap95, 2),
                ["firstPageP50Ms"] = Math.Round(pp50, 2),
                ["firstPageP95Ms"] = Math.Round(pp95, 2),
                ["ratioP50"] = Math.Round(ap50 / pp50, 2),
                ["ratioP95"] = Math.Round(ap95 / pp95, 2),
            });
        }
        return trail.Report("activity-90-days-vs-first-page", repetitions, results);
    }
}
