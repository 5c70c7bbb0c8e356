using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// Peak managed memory of an export at several sizes, in one process and run: the claim is that it
/// stays flat (bounded by one upload block and one query page), so the figure is each size's
/// peak divided by the smallest size's peak. Memory is sampled every 5 ms during the export, after
/// a full collection, as the growth over the heap before it started.
/// </summary>
public static class ExportMemoryBenchmark
{
    public static async Task<JsonObject> RunAsync(StorageClients clients, IReadOnlyList<int> sizes, TextWriter log, CancellationToken ct)
    {
        using var store = new TrailStore(clients);
        var time = TimeProvider.System;
        var ingestion = new IngestionService(store, new DeadLetterStore(store), time, NullLogger<IngestionService>.Instance);
        var queries = new TrailQueryService(store, time);
        var exports = new ExportService(clients, store, queries, ingestion, time, NullLogger<ExportService>.Instance);
        var results = new JsonArray();
        foreach (var size in sizes)
        {
            var ws = $"bench_export_{size}_{Guid.NewGuid():N}"[..40];
            log.WriteLine($"seeding {size} events...");
            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            for (var offset = 0; offset < size; offset += 1000)
            {
                var batch = Enumerable.Range(offset, Math.Min(1000, size - offset)).Select(i => RawEvent.FromText(new JsonObject
                {
                    ["id"] = $"evt_{i}",
                    ["workspaceId"] = ws,
                    ["type"] = "Source Modified",
                    ["timestamp"] = now.AddSeconds(-(i * 60.0 * 60 * 24 * 80 / size)).ToString("O"),
                    ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 17}", ["name"] = "Ada Lovelace" },
                    ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 5}", ["name"] = "Website" },
                    ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
                }.ToJsonString())).ToList();
                await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), ct);
            }

            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var baseline = GC.GetTotalMemory(true);
            long peak = baseline;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peak = Math.Max(peak, GC.GetTotalMemory(false));
                    await Task.Delay(5, CancellationToken.None);
                }
            }, CancellationToken.None);
            var watch = Stopwatch.StartNew();
            var query = new AuditQuery(ws, now.AddDays(-89), now.AddMinutes(5), [], null, null, null, null, null, AuditQuery.MaxLimit);
            var info = await exports.CreateAsync(query, new ExportActor("system", "benchmark"), ct);
            watch.Stop();
            await sampling.CancelAsync();
            await sampler;
            var growthMb = (peak - baseline) / (1024.0 * 1024.0);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{size} events: {info.RowCount} rows, {info.ByteSize / (1024.0 * 1024.0):F1} MB CSV in {watch.Elapsed.TotalSeconds:F1} s ({info.RowCount / watch.Elapsed.TotalSeconds:F0} rows/s); peak heap growth {growthMb:F1} MB"));
            results.Add(new JsonObject
            {
                ["events"] = size,
                ["rows"] = info.RowCount,
                ["csvBytes"] = info.ByteSize,
                ["seconds"] = watch.Elapsed.TotalSeconds,
                ["peakHeapGrowthBytes"] = peak - baseline,
            });
        }
        var first = (double)(long)results[0]!["peakHeapGrowthBytes"]!;
        foreach (var r in results)
        {
            r!["peakRatioToSmallest"] = (long)r["peakHeapGrowthBytes"]! / first;
        }
        return new JsonObject { ["benchmark"] = "export-peak-memory", ["sizes"] = results, ["target"] = "peak within ±20% of the smallest size" };
    }
}
