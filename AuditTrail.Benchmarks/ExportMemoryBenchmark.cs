using System.Diagnostics;
using AuditTrail.Core.Events;
using AuditTrail.Core.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// Peak managed memory of an export at several sizes, in one process and run. The claim is that it
/// stays flat (bounded by one upload block and one query page), so each figure is a size's live
/// peak divided by the smallest size's.
/// <para>
/// Two kinds of run. <b>End to end</b>: seed a workspace through the ingest service, then export it
/// through <see cref="ExportService"/> (queries, CSV, blocks, commit, audit event). <b>Writer</b>: the
/// worker's own <see cref="CsvBlockWriter"/> (the same loop, buffer and block size) with real block
/// uploads to the same Azurite, fed query-sized pages of generated events instead of queries, its
/// checkpoints kept in memory instead of the export's row. The writer kind exists for 1M rows: Azurite
/// evaluates every table query by scanning the whole table, so reading 1M events back (5M rows)
/// through it takes hours and measures Azurite, not the export.
/// </para>
/// </summary>
public static class ExportMemoryBenchmark
{
    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, IReadOnlyList<int> sizes, IReadOnlyList<int> writerSizes, int writerRounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var time = TimeProvider.System;
        var ingestion = new IngestionService(store, new DeadLetterStore(store), time, NullLogger<IngestionService>.Instance);
        var queries = new TrailQueryService(store, time, Microsoft.Extensions.Options.Options.Create(new QueryOptions()));
        var exportOptions = Microsoft.Extensions.Options.Options.Create(new ExportOptions { MaxRunTime = TimeSpan.FromHours(1) });
        var exports = new ExportService(clients.Tables, clients.Blobs, clients.Queues, new ExportLinks(clients.Blobs, time), store, new ActionRecorder(ingestion, store, time, NullLogger<ActionRecorder>.Instance), exportOptions, time, NullLogger<ExportService>.Instance);
        var worker = new ExportWorker(exports, queries, exportOptions, time, NullLogger<ExportWorker>.Instance);
        var container = exports.Container;
        await container.CreateIfNotExistsAsync(cancellationToken: ct);

        var endToEnd = new JsonArray();
        foreach (var size in sizes)
        {
            var ws = $"bench_export_{size}_{Guid.NewGuid():N}"[..40];
            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            var watch = Stopwatch.StartNew();
            for (var offset = 0; offset < size; offset += 1000)
            {
                var batch = Enumerable.Range(offset, Math.Min(1000, size - offset))
                    .Select(i => RawEvent.FromText(SampleEventJson(ws, i, now))).ToList();
                await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), ct);
                log.Write($"\rseeding {size} events: {offset + batch.Count} ({watch.Elapsed.TotalSeconds:F0} s)");
            }
            log.WriteLine();
            var query = new AuditQuery(ws, now.AddDays(-89), now.AddMinutes(5), [], null, null, null, null, null, AuditQuery.MaxLimit);
            var figure = await MeasureAsync(async () =>
            {
                // The queue's part is the worker's: it runs the message here, in the measured process.
                var queued = await exports.CreateAsync(query, new ExportActor("system", "benchmark"), ct);
                await worker.RunAsync(new ExportMessage(ws, queued.Id).ToJson(), 1, ct);
                return (await exports.GetAsync(ws, queued.Id, ct))!.RowCount;
            });
            endToEnd.Add(Report(log, "end to end", size, figure));
        }

        // Writer runs are cheap, so each size runs several times, interleaved, and the median counts:
        // a single live peak varies by about a megabyte with what happens to be live when sampled.
        var figures = writerSizes.ToDictionary(size => size, _ => new List<Figure>());
        for (var round = 0; round < writerRounds; round++)
        {
            foreach (var size in writerSizes)
            {
                var blob = $"bench/{Guid.NewGuid():N}.csv";
                var figure = await MeasureAsync(() => WriteAsync(container.GetBlockBlobClient(blob), exportOptions.Value.BlockBytes, size, log, ct));
                log.WriteLine();
                Report(log, $"writer round {round + 1}", size, figure);
                figures[size].Add(figure);
                await container.DeleteBlobIfExistsAsync(blob, cancellationToken: ct);
            }
        }
        var writerRuns = new JsonArray();
        foreach (var (size, runs) in figures)
        {
            var median = runs.OrderBy(f => f.LiveGrowth).ElementAt(runs.Count / 2) with
            {
                SteadyGrowth = runs.Select(f => f.SteadyGrowth).Order().ElementAt(runs.Count / 2),
            };
            var row = Report(log, "writer median", size, median);
            row["livePeakGrowthBytesAllRounds"] = new JsonArray(runs.Select(f => (JsonNode)f.LiveGrowth).ToArray());
            writerRuns.Add(row);
        }

        AddRatios(endToEnd);
        AddRatios(writerRuns);
        return new JsonObject
        {
            ["benchmark"] = "export-peak-memory",
            ["endToEnd"] = endToEnd,
            ["writer"] = writerRuns,
            ["target"] = "live peak within ±20% of the smallest size",
        };
    }

    private sealed record Figure(long Rows, TimeSpan Elapsed, long LiveGrowth, long SteadyGrowth, long UncollectedGrowth, double AllocatedPerRow, int Gen0Collections);

    /// <summary>
    /// "Live" is what the export holds: a sampler thread forces a full, compacting collection (every
    /// 5 ms for the first second, then every 100 ms) and reads what survives, so garbage does not count.
    /// The peak is the largest such sample, "steady" the median one: the peak also catches the rare
    /// moment a block upload is in flight, the median what the export keeps between uploads. "Uncollected" is the heap between
    /// collections, garbage included: its ceiling follows the GC's gen-0 budget, which the runtime
    /// raises on a long allocation-heavy run, not anything the export keeps. Both are growth over
    /// the live heap before or after the run, whichever is smaller.
    /// </summary>
    private static async Task<Figure> MeasureAsync(Func<Task<long>> export)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var baseline = GC.GetTotalMemory(true);
        long live = baseline, uncollected = baseline; // raised by the samples; before/after floor applied below
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var gen0Before = GC.CollectionCount(0);
        var stop = false;
        var liveSamples = new List<long>();
        var sampler = new Thread(() =>
        {
            for (var tick = 1; !Volatile.Read(ref stop); tick++)
            {
                uncollected = Math.Max(uncollected, GC.GetTotalMemory(false));
                if (tick < 200 || tick % 20 == 0) // dense at first, so a short run is sampled too
                {
                    var sample = GC.GetTotalMemory(true); liveSamples.Add(sample); live = Math.Max(live, sample);
                }
                Thread.Sleep(5);
            }
        }) { IsBackground = true, Name = "memory sampler" };
        sampler.Start();
        var watch = Stopwatch.StartNew();
        var rows = await export();
        watch.Stop();
        Volatile.Write(ref stop, true);
        sampler.Join();
        // The heap before the run can hold a few MB that die during it (seeding's last buffers and
        // connection state), which would hide the export's own memory; the smaller of before and
        // after is the floor the export adds to.
        baseline = Math.Min(baseline, GC.GetTotalMemory(true));
        var steady = liveSamples.Count == 0 ? live : liveSamples.Order().ElementAt(liveSamples.Count / 2);
        var allocatedPerRow = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)Math.Max(1, rows);
        return new Figure(rows, watch.Elapsed, live - baseline, steady - baseline, uncollected - baseline, allocatedPerRow, GC.CollectionCount(0) - gen0Before);
    }

    private static JsonObject Report(TextWriter log, string kind, int size, Figure f)
    {
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{kind}, {size} events: {f.Rows} rows in {f.Elapsed.TotalSeconds:F1} s ({f.Rows / f.Elapsed.TotalSeconds:F0} rows/s); live peak +{f.LiveGrowth / 1048576.0:F1} MB, steady +{f.SteadyGrowth / 1048576.0:F1} MB, uncollected peak +{f.UncollectedGrowth / 1048576.0:F1} MB, {f.AllocatedPerRow:F0} B allocated per row, {f.Gen0Collections} gen-0 GCs"));
        return new JsonObject
        {
            ["events"] = size,
            ["rows"] = f.Rows,
            ["seconds"] = Math.Round(f.Elapsed.TotalSeconds, 2),
            ["rowsPerSecond"] = Math.Round(f.Rows / f.Elapsed.TotalSeconds),
            ["livePeakGrowthBytes"] = f.LiveGrowth,
            ["liveSteadyGrowthBytes"] = f.SteadyGrowth,
            ["uncollectedPeakGrowthBytes"] = f.UncollectedGrowth,
            ["allocatedBytesPerRow"] = Math.Round(f.AllocatedPerRow),
        };
    }

    private static void AddRatios(JsonArray runs)
    {
        if (runs.Count == 0)
        {
            return;
        }
        var firstPeak = (double)(long)runs[0]!["livePeakGrowthBytes"]!;
        var firstSteady = (double)(long)runs[0]!["liveSteadyGrowthBytes"]!;
        foreach (var r in runs)
        {
            r!["livePeakRatioToSmallest"] = Math.Round((long)r["livePeakGrowthBytes"]! / firstPeak, 2);
            r["liveSteadyRatioToSmallest"] = Math.Round((long)r["liveSteadyGrowthBytes"]! / firstSteady, 2);
        }
    }

    /// <summary>
    /// Seeded density: 100k events fill 80 days. Every size has the same density, so every export
    /// reads full query pages; a sparser trail (10k over 80 days) reads smaller pages and peaks lower.
    /// </summary>
    private const double EventsPerDay = 1250;

    private static string SampleEventJson(string ws, int i, DateTimeOffset now) => new JsonObject
    {
        ["id"] = $"evt_{i}",
        ["workspaceId"] = ws,
        ["type"] = "Source Modified",
        ["timestamp"] = now.AddSeconds(-(i * 86_400.0 / EventsPerDay)).ToString("O"),
        ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 17}", ["name"] = "Ada Lovelace" },
        ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 5}", ["name"] = "Website" },
        ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
    }.ToJsonString();

    /// <summary>
    /// What the worker does between its queries and its commit, with generated pages: the worker's
    /// writer, its blocks kept as a checkpoint would keep them, then the list committed.
    /// </summary>
    private static async Task<long> WriteAsync(BlockBlobClient blob, int blockBytes, int size, TextWriter log, CancellationToken ct)
    {
        var kept = new KeptBlocks();
        var end = await new CsvBlockWriter(blob, blockBytes).WriteAsync(GeneratedPages(size, log), null, header: true, kept, () => false, ct);
        if (end != CsvWriteEnd.AllStaged)
        {
            throw new InvalidOperationException($"The writer stopped early: {end}.");
        }
        await blob.CommitBlockListAsync(kept.Ids, new CommitBlockListOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } }, ct);
        return kept.Rows;
    }

    /// <summary>Checkpoints that only remember the blocks, for the commit.</summary>
    private sealed class KeptBlocks : IBlockCheckpoint
    {
        public List<string> Ids { get; } = [];

        public long Rows { get; private set; }

        public string NextBlockId() => ExportRecord.BlockId("benchrun", Ids.Count);

        public Task<bool> SaveAsync(StagedBlock block, CancellationToken cancellationToken)
        {
            Ids.Add(block.Id);
            Rows += block.Rows;
            return Task.FromResult(true);
        }
    }

    /// <summary>Events shaped like the end-to-end ones, generated a query page (500) at a time as the query would hand them over.</summary>
    private static Func<QueryPosition?, CancellationToken, Task<AuditEventPage>> GeneratedPages(int size, TextWriter log)
    {
        var now = DateTimeOffset.UtcNow;
        return async (position, ct) =>
        {
            await Task.Yield(); // a query's round trip, as the query source has
            var start = position is null ? 0 : int.Parse(position.AfterRowKey, CultureInfo.InvariantCulture);
            if (start % 100_000 == 0)
            {
                log.Write($"\rwriter, {size} events: {start}");
            }
            var count = Math.Min(ExportWorker.PageSize, size - start);
            var events = new List<AuditEvent>(count);
            for (var i = start; i < start + count; i++)
            {
                ct.ThrowIfCancellationRequested();
                events.Add(new AuditEvent($"evt_{i}", "bench_writer", "Source Modified", "Connections", true,
                    now.AddSeconds(-i), new AuditActor("user", $"usr_{i % 17}", "Ada Lovelace", null),
                    new AuditResource("source", $"src_{i % 5}", "Website"), null,
                    """[{"field":"enabled","before":true,"after":false}]""", null));
            }
            var next = start + count < size ? new QueryPosition("generated", (start + count).ToString(CultureInfo.InvariantCulture)) : null;
            return new AuditEventPage(events, next);
        };
    }
}
