using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
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
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailStore(clients.Tables, clients.Blobs);
        await store.EnsureCreatedAsync(ct);
        var clock = new QueryBenchmark.NoonClock();
        var ingestion = new IngestionService(store, new DeadLetterStore(store), clock, NullLogger<IngestionService>.Instance);
        using var measured = latencyMs > 0 ? RegisteredStorage.Create(clients.ConnectionString, new QueryBenchmark.RoundTrip(TimeSpan.FromMilliseconds(latencyMs))) : null;
        var queryStore = new TrailStore((measured ?? clients).Tables, (measured ?? clients).Blobs);
        var options = Options.Create(new QueryOptions());
        var queries = new TrailQueryService(queryStore, clock, options);
        var activity = new TrailActivityService(queryStore, clock, options);
        var (ws, now) = await QueryBenchmark.SeedAsync(ingestion, clock, events, days, log, ct);

        var start = now.AddDays(-90);
        var end = now.AddMinutes(5);
        AuditQuery Query(string[]? types = null, string? actorId = null, string? resourceType = null, string? resourceId = null) =>
            new(ws, start, end, types ?? [], null, actorId, null, resourceType, resourceId, PageSize);
        var kinds = new (string Name, AuditQuery Query)[]
        {
            ("no filter", Query()),
            ("type", Query(types: ["Integrations Enabled"])),
            ("actorId", Query(actorId: "usr_7")),
            ("resource", Query(resourceType: "source", resourceId: "src_13")),
        };

        var results = new JsonArray();
        foreach (var (name, query) in kinds)
        {
            await queries.QueryAsync(query, null, ct); // warm
            var counted = (await activity.CountAsync(query, ct)).Total;
            var activityTimes = new List<double>();
            var pageTimes = new List<double>();
            for (var r = 0; r < repetitions; r++)
            {
                var t = Stopwatch.StartNew();
                await queries.QueryAsync(query, null, ct);
                pageTimes.Add(t.Elapsed.TotalMilliseconds);
                t.Restart();
                await activity.CountAsync(query, ct);
                activityTimes.Add(t.Elapsed.TotalMilliseconds);
            }
            var (ap50, ap95) = QueryBenchmark.Percentiles(activityTimes);
            var (pp50, pp95) = QueryBenchmark.Percentiles(pageTimes);
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
        return new JsonObject
        {
            ["benchmark"] = "activity-90-days-vs-first-page",
            ["events"] = events,
            ["days"] = days,
            ["latencyMs"] = latencyMs,
            ["repetitions"] = repetitions,
            ["filters"] = results,
        };
    }
}
