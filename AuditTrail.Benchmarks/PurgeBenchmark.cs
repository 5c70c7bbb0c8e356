using System.Diagnostics;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// Purge rate against a raw baseline in the same run, on the same storage: two identical sets of
/// expired workspace-days are seeded; the baseline deletes one set's rows (event rows, id claims,
/// registry rows: exactly what a purge removes) with plain SDK batch deletes (100 rows a
/// transaction, straight to <c>SubmitTransactionAsync</c>) and the same parallelism, knowing its
/// partitions up front; the purge removes the other set the way it runs in
/// production. The figure is the ratio of the two rates, so a noisy machine affects both alike.
/// Runs on a clock 1,000+ days in the past so it never touches real data.
/// </summary>
public static class PurgeBenchmark
{
    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, int events, int workspaces, int rounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var results = new JsonArray();
        // Round 0 is a small warm-up (JIT, connection pool) for both paths and is not reported:
        // the baseline must run first in a round (the purge is global), so a cold start would count against it.
        for (var round = 0; round <= rounds; round++)
        {
            var size = round == 0 ? Math.Max(workspaces * 10, events / 20) : events;
            var clock = new SettableClock(new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1000 - (10 * round)), TimeSpan.Zero).AddHours(12));
            var store = new TrailTables(clients.Tables, clients.Blobs);
            var ingestion = new IngestionService(store, new DeadLetterStore(store), clock, NullLogger<IngestionService>.Instance);
            var expiredDay = RetentionService.FirstKeptDay(clock.Now).AddDays(-2);
            var run = Guid.NewGuid().ToString("N")[..8];
            var rawSet = Enumerable.Range(0, workspaces).Select(i => $"bench_raw_{run}_{i}").ToList();
            var purgeSet = Enumerable.Range(0, workspaces).Select(i => $"bench_purge_{run}_{i}").ToList();

            // Each set is seeded and deleted on its own, so both run against the same table state
            // (Azurite's in-memory store slows as a table grows), and the order alternates by round.
            var raw = new Stopwatch();
            var purge = new Stopwatch();
            long rawRows = 0;
            PurgeReport report = null!;
            async Task RawAsync()
            {
                await SeedAsync(ingestion, clock, rawSet, size / workspaces, expiredDay, log, ct);
                raw.Start();
                rawRows = await RawDeleteAsync(store, rawSet, expiredDay, ct);
                raw.Stop();
            }
            async Task PurgeAsync()
            {
                await SeedAsync(ingestion, clock, purgeSet, size / workspaces, expiredDay, log, ct);
                purge.Start();
                report = await new RetentionService(store, clients.Blobs, clock, NullLogger<RetentionService>.Instance).PurgeAsync(false, ct);
                purge.Stop();
            }
            log.WriteLine($"round {round}{(round == 0 ? " (warm-up)" : "")}: {size} events per set ({workspaces} workspaces) on {expiredDay:yyyy-MM-dd}, {(round % 2 == 0 ? "baseline" : "purge")} first");
            await Turns.BothAsync(round, RawAsync, PurgeAsync);

            var purgeRows = report.EventRows + report.IdClaims + (2L * report.Partitions.Count);
            var rawRate = rawRows / raw.Elapsed.TotalSeconds;
            var purgeRate = purgeRows / purge.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}{(round == 0 ? " (warm-up, not counted)" : "")}: raw {rawRows} rows in {raw.Elapsed.TotalSeconds:F2} s ({rawRate:F0}/s); purge {purgeRows} rows in {purge.Elapsed.TotalSeconds:F2} s ({purgeRate:F0}/s); ratio {purgeRate / rawRate:F2}"));
            if (round == 0)
            {
                continue;
            }
            results.Add(new JsonObject
            {
                ["round"] = round,
                ["rawRows"] = rawRows,
                ["rawSeconds"] = raw.Elapsed.TotalSeconds,
                ["purgeRows"] = purgeRows,
                ["purgeSeconds"] = purge.Elapsed.TotalSeconds,
                ["ratio"] = purgeRate / rawRate,
            });
        }
        var ratios = results.Select(r => (double)r!["ratio"]!).Order().ToList();
        return new JsonObject
        {
            ["benchmark"] = "purge-vs-raw-batch-deletes",
            ["events"] = events,
            ["workspaces"] = workspaces,
            ["rounds"] = results,
            ["medianRatio"] = ratios[ratios.Count / 2],
            ["target"] = 0.8,
        };
    }

    private static async Task SeedAsync(IngestionService ingestion, SettableClock clock, List<string> workspaces, int perWorkspace, DateOnly day, TextWriter log, CancellationToken ct)
    {
        var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var now = clock.Now;
        clock.Now = start.AddDays(1);
        foreach (var ws in workspaces)
        {
            for (var offset = 0; offset < perWorkspace; offset += 500)
            {
                var batch = Enumerable.Range(offset, Math.Min(500, perWorkspace - offset)).Select(i => RawEvent.FromText(new JsonObject
                {
                    ["id"] = $"evt_{i}",
                    ["workspaceId"] = ws,
                    ["type"] = "Source Modified",
                    ["timestamp"] = start.AddSeconds(i).ToString("O"),
                    ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 17}" },
                    ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 5}" },
                }.ToJsonString())).ToList();
                await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), ct);
            }
            log.Write('.');
        }
        log.WriteLine();
        clock.Now = now;
    }

    /// <summary>The baseline: known partitions, keys read page by page, deleted 100 per transaction, 4 partitions at once.</summary>
    private static async Task<long> RawDeleteAsync(TrailTables store, List<string> workspaces, DateOnly day, CancellationToken ct)
    {
        long rows = 0;
        var dayKey = DayKeys.Of(day);
        await Parallel.ForEachAsync(workspaces, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (ws, token) =>
        {
            var pk = TrailKeys.PartitionKey(ws, day);
            long local = 0;
            await foreach (var page in store.Events.Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {pk}"), 1000, EventRows.IdColumns, token).AsPages())
            {
                var claims = page.Values.Where(r => r.RowKey.StartsWith("e_", StringComparison.Ordinal)).Select(r => TrailKeys.Encode(EventRows.EventId(r)!)).ToList();
                foreach (var chunk in claims.Chunk(100))
                {
                    await store.Claims.Table.SubmitTransactionAsync(chunk.Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(ws, k))).ToList(), token);
                }
                foreach (var chunk in page.Values.Chunk(100))
                {
                    await store.Events.Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(pk, r.RowKey))).ToList(), token);
                }
                local += page.Values.Count + claims.Count;
            }
            await store.Days.ByWorkspace.DeleteEntityAsync(ws, dayKey, cancellationToken: token);
            await store.Days.ByDay.DeleteEntityAsync(dayKey, ws, cancellationToken: token);
            Interlocked.Add(ref rows, local + 2);
        });
        return rows;
    }
}
