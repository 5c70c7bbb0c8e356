using System.Diagnostics;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// End-to-end ingest rate against raw SDK transactions of the same entities, in the same run on the
/// same storage. The ingest side takes raw JSON through <see cref="IngestionService"/> in batches
/// of <see cref="BatchSize"/> (validation, claims, rows, registries). The baselines get the very
/// claims, rows and registry rows ready-made, before their clock starts, and submit them straight
/// to the table client's <c>SubmitTransactionAsync</c> (100-action transactions per partition, the
/// same parallelism, no guard):
/// <list type="bullet">
/// <item><b>raw, in order</b>: registries, then claims, then rows, as any append-only writer must
/// (a row may only be written once its id is claimed). The target applies to this one: it is the
/// storage work ingest cannot avoid, in the order it cannot avoid.</item>
/// <item><b>raw, all at once</b>: every transaction of the batch in parallel, an upper bound no
/// correct writer reaches; its ratio shows what the claim-before-rows order costs.</item>
/// </list>
/// The three take turns batch by batch, the order rotating each batch, so all write to tables of
/// the same size (Azurite slows as a table grows). Each batch is a paired sample: its ratio is a
/// baseline's time for the batch ÷ ingest's time for it, and the figure is the median of those
/// ratios over all counted batches, which a drifting or briefly stalled emulator moves far less
/// than a ratio of totals (reported too).
/// </summary>
public static class IngestBenchmark
{
    public const int BatchSize = 500;
    private const int Parallelism = 8;

    private sealed record RawBatch(List<Work> Registries, List<Work> Claims, List<Work> Rows);

    private sealed record Work(TableClient Table, List<TableTransactionAction> Actions);

    /// <param name="ledger">Ingest records each stored event in the integrity ledger, as the app does (docs/integrity.md); the baselines write what they always wrote, so the ratio carries the ledger's cost.</param>
    public static async Task<JsonObject> RunAsync(RegisteredStorage clients, int events, int rounds, TextWriter log, CancellationToken ct, bool ledger = false)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        await store.EnsureCreatedAsync(ct);
        var integrity = ledger ? new IntegrityLedger(new IntegrityStore(clients.Tables, clients.Blobs), TimeProvider.System) : null;
        var ingestion = new IngestionService(store, new DeadLetterStore(store), TimeProvider.System, NullLogger<IngestionService>.Instance, afterStore: integrity is null ? [] : [integrity]);
        var results = new JsonArray();
        var pairedOrdered = new List<double>();
        var pairedAtOnce = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            var size = round == 0 ? Math.Max(BatchSize, events / 10) : events; // round 0 warms up and is not counted
            // One workspace for all three: their events have their own ids, so their claims and rows
            // interleave in the same partitions and key ranges. Azurite keeps each table's keys in a
            // sorted index, so an insert costs more the more keys sort after it: with a workspace
            // each, whichever workspace id sorted first was measured slowest.
            var workspace = $"bench_ingest_{Guid.NewGuid():N}"[..30];
            var ingestSet = SampleEvents.Raw(size, workspace).Chunk(BatchSize).ToList();
            var ordered = Prepare(store, SampleEvents.Raw(size, workspace));
            var atOnce = Prepare(store, SampleEvents.Raw(size, workspace));
            var entities = ordered.Sum(b => b.Registries.Concat(b.Claims).Concat(b.Rows).Sum(w => w.Actions.Count));

            var ingest = new Stopwatch();
            var inOrder = new Stopwatch();
            var allAtOnce = new Stopwatch();
            var roundOrdered = new List<double>();
            var roundAtOnce = new List<double>();
            async Task IngestAsync(int b)
            {
                ingest.Start();
                var result = await ingestion.IngestAsync(ingestSet[b], new IngestContext(IngestDoors.Http), ct);
                ingest.Stop();
                if (result.Accepted != ingestSet[b].Length)
                {
                    throw new InvalidOperationException($"Benchmark events were not all accepted: {(result.Rejected.Count > 0 ? result.Rejected[0].Reason : "")}");
                }
            }
            async Task InOrderAsync(int b)
            {
                inOrder.Start();
                await SubmitAsync(ordered[b].Registries, ct);
                await SubmitAsync(ordered[b].Claims, ct);
                await SubmitAsync(ordered[b].Rows, ct);
                inOrder.Stop();
            }
            async Task AllAtOnceAsync(int b)
            {
                allAtOnce.Start();
                await SubmitAsync([.. atOnce[b].Registries, .. atOnce[b].Claims, .. atOnce[b].Rows], ct);
                allAtOnce.Stop();
            }
            Func<int, Task>[] sides = [IngestAsync, InOrderAsync, AllAtOnceAsync];
            for (var b = 0; b < ingestSet.Count; b++)
            {
                var (i0, o0, a0) = (ingest.Elapsed, inOrder.Elapsed, allAtOnce.Elapsed);
                for (var s = 0; s < sides.Length; s++)
                {
                    await sides[(b + s) % sides.Length](b);
                }
                var ingested = (ingest.Elapsed - i0).TotalSeconds;
                roundOrdered.Add((inOrder.Elapsed - o0).TotalSeconds / ingested);
                roundAtOnce.Add((allAtOnce.Elapsed - a0).TotalSeconds / ingested);
            }
            var ingestRate = size / ingest.Elapsed.TotalSeconds;
            var orderedRate = size / inOrder.Elapsed.TotalSeconds;
            var atOnceRate = size / allAtOnce.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}{(round == 0 ? " (warm-up, not counted)" : "")}: {size} events ({entities} entities); ingest {ingestRate:F0} events/s, raw in order {orderedRate:F0}, raw all at once {atOnceRate:F0}; paired median ratio {Median(roundOrdered):F2} (to all at once {Median(roundAtOnce):F2}), ratio of totals {ingestRate / orderedRate:F2} ({ingestRate / atOnceRate:F2})"));
            if (round > 0)
            {
                pairedOrdered.AddRange(roundOrdered);
                pairedAtOnce.AddRange(roundAtOnce);
                results.Add(new JsonObject
                {
                    ["round"] = round,
                    ["events"] = size,
                    ["entities"] = entities,
                    ["ingestSeconds"] = ingest.Elapsed.TotalSeconds,
                    ["rawInOrderSeconds"] = inOrder.Elapsed.TotalSeconds,
                    ["rawAllAtOnceSeconds"] = allAtOnce.Elapsed.TotalSeconds,
                    ["pairedMedianRatio"] = Median(roundOrdered),
                    ["pairedMedianRatioToAllAtOnce"] = Median(roundAtOnce),
                    ["ratioOfTotals"] = ingestRate / orderedRate,
                    ["ratioOfTotalsToAllAtOnce"] = ingestRate / atOnceRate,
                });
            }
        }
        return new JsonObject
        {
            ["benchmark"] = "ingest-vs-raw-sdk-transactions",
            ["events"] = events,
            ["ledger"] = ledger,
            ["batchSize"] = BatchSize,
            ["rounds"] = results,
            ["pairedBatches"] = pairedOrdered.Count,
            ["medianRatio"] = Median(pairedOrdered),
            ["medianRatioToAllAtOnce"] = Median(pairedAtOnce),
            ["target"] = 0.9,
        };
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task SubmitAsync(List<Work> work, CancellationToken ct) =>
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (w, token) => await w.Table.SubmitTransactionAsync(w.Actions, token));

    /// <summary>
    /// What ingest writes for these events, batch by batch, as the same transactions: claims as
    /// inserts, the four rows as upserts, and the registry rows where ingest writes them (the first
    /// time a workspace-day is seen).
    /// </summary>
    private static List<RawBatch> Prepare(TrailTables store, IReadOnlyList<RawEvent> raw)
    {
        var registered = new HashSet<string>(StringComparer.Ordinal);
        var batches = new List<RawBatch>();
        foreach (var batch in raw.Chunk(BatchSize))
        {
            var now = DateTimeOffset.UtcNow;
            var events = batch.Select((r, i) => AuditEventReader.Read(r, i, null, now).Event!).ToList();
            // The very claims ingest writes, from the claims table's owner.
            var claims = Transactions(store.Claims.Table, TableTransactionActionType.Add,
                events.Select(e => EventClaim.For(e, EventRows.ContentHash(e), now, IngestDoors.Http, Guid.NewGuid().ToString("N")).ToEntity()));
            var rows = Transactions(store.Events.Table, TableTransactionActionType.UpsertReplace, events.SelectMany(e => EventRows.Create(e, EventRows.ContentHash(e), now, IngestDoors.Http)));
            var days = events.Select(e => (Day: DayKeys.Of(e.Timestamp), e.WorkspaceId)).Distinct()
                .Where(d => registered.Add(d.Day + "/" + d.WorkspaceId)).ToList();
            var registries = Transactions(store.Days.ByDay, TableTransactionActionType.UpsertReplace, days.Select(d => new TableEntity(d.Day, d.WorkspaceId)))
                .Concat(Transactions(store.Days.ByWorkspace, TableTransactionActionType.UpsertReplace, days.Select(d => new TableEntity(d.WorkspaceId, d.Day)))).ToList();
            batches.Add(new RawBatch(registries, claims, rows));
        }
        return batches;
    }

    private static List<Work> Transactions(TableClient table, TableTransactionActionType action, IEnumerable<ITableEntity> entities) =>
        entities.GroupBy(e => e.PartitionKey)
            .SelectMany(partition => partition.Chunk(TableTransactions.MaxActions))
            .Select(chunk => new Work(table, chunk.Select(e => new TableTransactionAction(action, e)).ToList()))
            .ToList();
}
