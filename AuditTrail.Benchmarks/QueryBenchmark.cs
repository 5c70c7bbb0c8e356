using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;

namespace AuditTrail.Benchmarks;

/// <summary>
/// First-page latency of the query API's service (limit 50) on a workspace with events spread over
/// 90 days, for each filter kind, against a raw single-partition range query on the same table (the
/// newest day's primary rows, top 50) measured interleaved in the same run. Figures: p50 and p95 of
/// each, and the filter's p50 and p95 as ratios to the raw query's; for the service as configured
/// (days read ahead in parallel) and with read-ahead off (one day after another).
/// </summary>
/// <remarks>
/// Azurite answers every table query by scanning the whole table on its one JavaScript thread, so
/// on it a query's cost is the number of queries, however they overlap. On Azure a partition range
/// query is an index seek and its cost is a round trip. <c>latencyMs</c> models that: every
/// storage request of the measured queries (the raw one too) is held that long before it is sent.
/// </remarks>
public static class QueryBenchmark
{
    private const int PageSize = 50;

    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, int events, int repetitions, TextWriter log, CancellationToken ct, int latencyMs = 0, int days = 89)
    {
        using var trail = await SeededTrail.CreateAsync(clients, events, days, latencyMs, log, ct);
        var queries = new TrailQueryService(trail.Store, trail.Clock, Options.Create(new QueryOptions()));
        var oneDayAtATime = new TrailQueryService(trail.Store, trail.Clock, Options.Create(new QueryOptions { MaxParallelDays = 1 }));
        var newest = TrailKeys.PartitionKey(trail.WorkspaceId, trail.Now);
        var raw = TableClient.CreateQueryFilter($"PartitionKey eq {newest} and RowKey ge {TrailKeys.PrimaryPrefix} and RowKey lt {"e`"}");
        var rawTable = trail.Store.Events.Table;

        var results = new JsonArray();
        foreach (var (name, query) in trail.FilterKinds(PageSize))
        {
            await queries.QueryAsync(query, null, ct); // warm
            await oneDayAtATime.QueryAsync(query, null, ct);
            var returned = 0;
            var times = await SeededTrail.TimeInterleavedAsync(repetitions,
                async () =>
                {
                    await foreach (var _ in rawTable.QueryAsync<TableEntity>(raw, PageSize, cancellationToken: ct).AsPages())
                    {
                        break; // one page: the raw single-partition range query
                    }
                },
                async () => returned = (await queries.QueryAsync(query, null, ct)).Events.Count,
                () => oneDayAtATime.QueryAsync(query, null, ct));
            var ((rp50, rp95), (fp50, fp95), (sp50, sp95)) = (times[0], times[1], times[2]);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-12} p50 {fp50,7:F1} ms p95 {fp95,7:F1} ms | raw p50 {rp50,7:F1} ms p95 {rp95,7:F1} ms | ratio p50 {fp50 / rp50:F2} p95 {fp95 / rp95:F2} | read-ahead off: ratio p50 {sp50 / rp50:F2} p95 {sp95 / rp95:F2} ({returned} events)"));
            results.Add(new JsonObject
            {
                ["filter"] = name,
                ["events"] = returned,
                ["p50Ms"] = Math.Round(fp50, 2),
                ["p95Ms"] = Math.Round(fp95, 2),
                ["rawP50Ms"] = Math.Round(rp50, 2),
                ["rawP95Ms"] = Math.Round(rp95, 2),
                ["ratioP50"] = Math.Round(fp50 / rp50, 2),
                ["ratioP95"] = Math.Round(fp95 / rp95, 2),
                ["readAheadOff"] = new JsonObject
                {
                    ["p50Ms"] = Math.Round(sp50, 2),
                    ["p95Ms"] = Math.Round(sp95, 2),
                    ["ratioP50"] = Math.Round(sp50 / rp50, 2),
                    ["ratioP95"] = Math.Round(sp95 / rp95, 2),
                },
            });
        }
        var report = trail.Report("first-page-query-vs-raw-range-query", repetitions, results);
        report["target"] = "ratio ≤ 2 for every filter kind";
        return report;
    }
}
