using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// End-to-end ingest rate against raw SDK transactions of the same entities, in the same run on the
/// same storage. The ingest side takes raw JSON through <see cref="IngestionService"/> in batches
/// of <see cref="BatchSize"/> (validation, claims, rows, registries). The baseline gets the very
/// rows and claims ready-made, before its clock starts, and submits them straight to the table
/// client's <c>SubmitTransactionAsync</c> as 100-action upsert transactions per partition, with the
/// same parallelism and no guard. The figure is ingest rate ÷ raw rate.
/// </summary>
public static class IngestBenchmark
{
    public const int BatchSize = 500;
    private const int Parallelism = 8;

    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, int events, int rounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(clients);
        using var store = new TrailStore(clients.Tables, clients.Blobs);
        await store.EnsureCreatedAsync(ct);
        var ingestion = new IngestionService(store, new DeadLetterStore(store), TimeProvider.System, NullLogger<IngestionService>.Instance);
        var results = new JsonArray();
        for (var round = 0; round <= rounds; round++)
        {
            var size = round == 0 ? Math.Max(BatchSize, events / 10) : events; // round 0 warms up and is not counted
            var ingestSet = SampleEvents.Raw(size, $"bench_ingest_{Guid.NewGuid():N}"[..30]);
            var rawSet = SampleEvents.Raw(size, $"bench_raw_{Guid.NewGuid():N}"[..30]);
            var rawWork = Prepare(store, rawSet);
            var entities = rawWork.Sum(w => w.Actions.Count);

            var ingest = new Stopwatch();
            var raw = new Stopwatch();
            async Task IngestAsync()
            {
                ingest.Start();
                foreach (var batch in ingestSet.Chunk(BatchSize))
                {
                    var result = await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), ct);
                    if (result.Accepted != batch.Length)
                    {
                        throw new InvalidOperationException($"Benchmark events were not all accepted: {(result.Rejected.Count > 0 ? result.Rejected[0].Reason : "")}");
                    }
                }
                ingest.Stop();
            }
            async Task RawAsync()
            {
                raw.Start();
                await Parallel.ForEachAsync(rawWork, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
                    async (work, token) => await work.Table.SubmitTransactionAsync(work.Actions, token));
                raw.Stop();
            }
            if (round % 2 == 0)
            {
                await RawAsync();
                await IngestAsync();
            }
            else
            {
                await IngestAsync();
                await RawAsync();
            }
            var ingestRate = size / ingest.Elapsed.TotalSeconds;
            var rawRate = size / raw.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}{(round == 0 ? " (warm-up, not counted)" : "")}: {size} events ({entities} entities); ingest {ingestRate:F0} events/s, raw {rawRate:F0} events/s; ratio {ingestRate / rawRate:F2}"));
            if (round > 0)
            {
                results.Add(new JsonObject
                {
                    ["round"] = round,
                    ["events"] = size,
                    ["entities"] = entities,
                    ["ingestSeconds"] = ingest.Elapsed.TotalSeconds,
                    ["rawSeconds"] = raw.Elapsed.TotalSeconds,
                    ["ratio"] = ingestRate / rawRate,
                });
            }
        }
        var ratios = results.Select(r => (double)r!["ratio"]!).Order().ToList();
        return new JsonObject
        {
            ["benchmark"] = "ingest-vs-raw-sdk-transactions",
            ["events"] = events,
            ["batchSize"] = BatchSize,
            ["rounds"] = results,
            ["medianRatio"] = ratios[ratios.Count / 2],
            ["target"] = 0.9,
        };
    }

    /// <summary>What ingest writes for these events (claims, the four rows, both registries), as plain upsert transactions.</summary>
    private static List<(TableClient Table, List<TableTransactionAction> Actions)> Prepare(TrailStore store, IReadOnlyList<RawEvent> raw)
    {
        var now = DateTimeOffset.UtcNow;
        var events = raw.Select((r, i) => AuditEventReader.Read(r, i, null, now).Event!).ToList();
        var work = new List<(TableClient, List<TableTransactionAction>)>();
        void Add(TableClient table, IEnumerable<ITableEntity> entities)
        {
            foreach (var partition in entities.GroupBy(e => e.PartitionKey))
            {
                work.AddRange(partition.Chunk(TableTransactions.MaxActions)
                    .Select(chunk => (table, chunk.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e)).ToList())));
            }
        }
        Add(store.EventIds, events.Select(e => new TableEntity(e.WorkspaceId, TrailKeys.Encode(e.Id))
        {
            ["EventId"] = e.Id,
            ["ContentHash"] = EventRows.ContentHash(e),
            ["EventPartition"] = EventRows.PartitionKey(e),
            ["EventRow"] = TrailKeys.PrimaryRowKey(e.Timestamp, e.Id),
            ["ReceivedAt"] = now,
            ["Door"] = IngestDoors.Http,
            ["ClaimToken"] = Guid.NewGuid().ToString("N"),
        }));
        Add(store.Events, events.SelectMany(e => EventRows.Create(e, EventRows.ContentHash(e), now, IngestDoors.Http)));
        var days = events.Select(e => (Day: e.Timestamp.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture), e.WorkspaceId)).Distinct().ToList();
        Add(store.Partitions, days.Select(d => new TableEntity(d.Day, d.WorkspaceId)));
        Add(store.WorkspaceDays, days.Select(d => new TableEntity(d.WorkspaceId, d.Day)));
        return work;
    }
}
