using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;
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
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailStore(clients.Tables, clients.Blobs);
        await store.EnsureCreatedAsync(ct);
        // A clock at noon UTC: the newest day partition then always holds half a day of events, so
        // whether a page fills from it does not depend on the hour the benchmark happens to run.
        var clock = new NoonClock();
        var ingestion = new IngestionService(store, new DeadLetterStore(store), clock, NullLogger<IngestionService>.Instance);
        using var measured = latencyMs > 0 ? RegisteredStorage.Create(clients.ConnectionString, new RoundTrip(TimeSpan.FromMilliseconds(latencyMs))) : null;
        var queryStore = new TrailStore((measured ?? clients).Tables, (measured ?? clients).Blobs);
        var queries = new TrailQueryService(queryStore, clock, Options.Create(new QueryOptions()));
        var oneDayAtATime = new TrailQueryService(queryStore, clock, Options.Create(new QueryOptions { MaxParallelDays = 1 }));
        var (ws, now) = await SeedAsync(ingestion, clock, events, days, log, ct);

        var start = now.AddDays(-90);
        var end = now.AddMinutes(5);
        AuditQuery Query(string[]? types = null, string? area = null, string? actorId = null, string? actorType = null, string? resourceType = null, string? resourceId = null) =>
            new(ws, start, end, types ?? [], area, actorId, actorType, resourceType, resourceId, PageSize);
        var kinds = new (string Name, AuditQuery Query)[]
        {
            ("no filter", Query()),
            ("type", Query(types: ["Integrations Enabled"])),
            ("actorId", Query(actorId: "usr_7")),
            ("resource", Query(resourceType: "source", resourceId: "src_13")),
            ("actorType", Query(actorType: "token")),
            ("productArea", Query(area: "Integrations")),
        };
        var newest = TrailKeys.PartitionKey(ws, now);
        var raw = TableClient.CreateQueryFilter($"PartitionKey eq {newest} and RowKey ge {TrailKeys.PrimaryPrefix} and RowKey lt {"e`"}");
        var rawTable = queryStore.Events;

        var results = new JsonArray();
        foreach (var (name, query) in kinds)
        {
            await queries.QueryAsync(query, null, ct); // warm
            await oneDayAtATime.QueryAsync(query, null, ct);
            var filterTimes = new List<double>();
            var sequentialTimes = new List<double>();
            var rawTimes = new List<double>();
            var returned = 0;
            for (var r = 0; r < repetitions; r++)
            {
                var t = Stopwatch.StartNew();
                await foreach (var _ in rawTable.QueryAsync<TableEntity>(raw, PageSize, cancellationToken: ct).AsPages())
                {
                    break; // one page: the raw single-partition range query
                }
                rawTimes.Add(t.Elapsed.TotalMilliseconds);
                t.Restart();
                returned = (await queries.QueryAsync(query, null, ct)).Events.Count;
                filterTimes.Add(t.Elapsed.TotalMilliseconds);
                t.Restart();
                await oneDayAtATime.QueryAsync(query, null, ct);
                sequentialTimes.Add(t.Elapsed.TotalMilliseconds);
            }
            var (fp50, fp95) = Percentiles(filterTimes);
            var (sp50, sp95) = Percentiles(sequentialTimes);
            var (rp50, rp95) = Percentiles(rawTimes);
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
        return new JsonObject
        {
            ["benchmark"] = "first-page-query-vs-raw-range-query",
            ["events"] = events,
            ["days"] = days,
            ["latencyMs"] = latencyMs,
            ["repetitions"] = repetitions,
            ["filters"] = results,
            ["target"] = "ratio ≤ 2 for every filter kind",
        };
    }

    /// <summary>
    /// A new workspace with <paramref name="events"/> events spread evenly over <paramref name="days"/>
    /// days before the clock's now, five types, 20 actors (every tenth event a token's), 50 resources.
    /// </summary>
    internal static async Task<(string WorkspaceId, DateTimeOffset Now)> SeedAsync(IngestionService ingestion, TimeProvider clock, int events, int days, TextWriter log, CancellationToken ct)
    {
        var ws = $"bench_query_{Guid.NewGuid():N}"[..32];
        var now = clock.GetUtcNow().AddMinutes(-1);
        var watch = Stopwatch.StartNew();
        for (var offset = 0; offset < events; offset += 1000)
        {
            var batch = Enumerable.Range(offset, Math.Min(1000, events - offset)).Select(i => RawEvent.FromText(new JsonObject
            {
                ["id"] = $"evt_{i}",
                ["workspaceId"] = ws,
                ["type"] = Types[i % Types.Length],
                ["timestamp"] = now.AddSeconds(-(i * (double)days * 86_400 / events)).ToString("O", CultureInfo.InvariantCulture),
                ["actor"] = new JsonObject { ["type"] = i % 10 == 0 ? "token" : "user", ["id"] = $"usr_{i % 20}" },
                ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 50}" },
            }.ToJsonString())).ToList();
            await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), ct);
            log.Write($"\rseeding {events} events over {days} days: {offset + batch.Count} ({watch.Elapsed.TotalSeconds:F0} s)");
        }
        log.WriteLine();
        return (ws, now);
    }

    internal static (double P50, double P95) Percentiles(List<double> values)
    {
        var sorted = values.Order().ToList();
        return (sorted[(int)Math.Round(0.50 * (sorted.Count - 1))], sorted[(int)Math.Round(0.95 * (sorted.Count - 1))]);
    }

    /// <summary>Today's noon (UTC), standing still.</summary>
    internal sealed class NoonClock : TimeProvider
    {
        private readonly DateTimeOffset _noon = new(DateTime.UtcNow.Date.AddHours(12), TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _noon;
    }

    /// <summary>Holds each request for a fixed time before sending it: a network round trip to a storage service that answers in index time.</summary>
    internal sealed class RoundTrip(TimeSpan latency) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(latency, cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }
    }

    private static readonly string[] Types = ["Source Modified", "Source Disabled", "Integrations Enabled", "Warehouses Modified", "Audience Run Failed"];
}
