using System.Diagnostics;
using AuditTrail.Core;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// Verification of a busy workspace's 90 days against a plain scan of the same rows, same run, same
/// storage. One workspace is seeded through the real ingest path (rows, claims, ledger) over 90
/// days of ingestion time on a clock 2,000+ days in the past, with events of every day and
/// <c>sealsPerDay</c> digests a day (24 is production's hourly timer; fewer keep the seeding short
/// — per event the verification's work is the same). The baseline reads every row of the
/// workspace's partitions with all properties, as verification must, and counts them;
/// verification recomputes each row's hash, compares it with the ledger, recomputes every
/// digest's Merkle root, and checks every signature and the chain. The figure is the ratio of
/// their events/s, median over rounds whose order alternates.
/// </summary>
public static class IntegrityBenchmark
{
    public static async Task<JsonObject> RunAsync(string connectionString, int events, int sealsPerDay, int rounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(log);
        var clock = new SettableClock(new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-2000), TimeSpan.Zero));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AuditStorage"] = connectionString,
            ["AuditTrail:Integrity:SealDelay"] = "00:05:00",
        }).Build();
        var services = new ServiceCollection().AddLogging().AddAuditTrailCore(configuration);
        services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock));
        await using var provider = services.BuildServiceProvider();
        var ingestion = provider.GetRequiredService<IngestionService>();
        var sealer = provider.GetRequiredService<DigestSealer>();
        var integrity = provider.GetRequiredService<IntegrityService>();
        var trail = provider.GetRequiredService<TrailTables>();
        var ws = "bench_integrity_" + Guid.NewGuid().ToString("N")[..8];

        var start = clock.Now;
        var seeding = Stopwatch.StartNew();
        const int Days = 90;
        var perSeal = Math.Max(1, events / (Days * sealsPerDay));
        var seeded = 0;
        for (var day = 0; day < Days; day++)
        {
            for (var s = 0; s < sealsPerDay && seeded < events; s++)
            {
                clock.Now = start.AddDays(day).AddHours(24.0 * s / sealsPerDay);
                var batch = new List<RawEvent>();
                for (var i = 0; i < perSeal && seeded < events; i++, seeded++)
                {
                    batch.Add(RawEvent.FromText(Event(ws, seeded, clock.Now.AddMinutes(-1 - (i % 50)))));
                }
                foreach (var chunk in batch.Chunk(500))
                {
                    await ingestion.IngestAsync(chunk, new IngestContext(IngestDoors.Http), ct);
                }
                clock.Now += TimeSpan.FromMinutes(6);
                await sealer.SealAsync(ws, ct);
            }
        }
        clock.Now += TimeSpan.FromHours(1);
        await sealer.SealAsync(ws, ct);
        seeding.Stop();
        log.WriteLine($"seeded {seeded} events of {ws} over {Days} days with {sealsPerDay} seals a day in {seeding.Elapsed.TotalSeconds:F0} s");

        var partitions = await trail.Days.ByWorkspace.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ws}"), cancellationToken: ct)
            .Select(r => TrailKeys.PartitionKey(ws, DateOnly.ParseExact(r.RowKey, "yyyyMMdd", CultureInfo.InvariantCulture))).ToListAsync(ct);
        var results = new JsonArray();
        var ratios = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            var scan = new Stopwatch();
            var verify = new Stopwatch();
            long rows = 0;
            VerificationReport report = null!;
            async Task ScanAsync()
            {
                scan.Start();
                rows = 0;
                await Parallel.ForEachAsync(partitions, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (p, c) =>
                {
                    long count = 0;
                    await foreach (var _ in trail.Events.Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {p}"), maxPerPage: 1000, cancellationToken: c))
                    {
                        count++;
                    }
                    Interlocked.Add(ref rows, count);
                });
                scan.Stop();
            }
            async Task VerifyAsync()
            {
                verify.Start();
                report = await integrity.VerifyAsync(ws, start.AddHours(-1), clock.Now, ct);
                verify.Stop();
            }
            await Turns.BothAsync(round, ScanAsync, VerifyAsync);
            if (!report.Intact)
            {
                throw new InvalidOperationException("The seeded trail did not verify intact: " + report);
            }
            var scanRate = rows / 4.0 / scan.Elapsed.TotalSeconds;
            var verifyRate = report.Events / verify.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}{(round == 0 ? " (warm-up, not counted)" : "")}: scan {rows} rows in {scan.Elapsed.TotalSeconds:F2} s ({scanRate:F0} events/s); verification of {report.Events} events in {report.Digests} digests in {verify.Elapsed.TotalSeconds:F2} s ({verifyRate:F0} events/s); ratio {verifyRate / scanRate:F2}"));
            if (round == 0)
            {
                continue;
            }
            ratios.Add(verifyRate / scanRate);
            results.Add(new JsonObject
            {
                ["rows"] = rows,
                ["events"] = report.Events,
                ["digests"] = report.Digests,
                ["scanSeconds"] = scan.Elapsed.TotalSeconds,
                ["verifySeconds"] = verify.Elapsed.TotalSeconds,
                ["scanEventsPerSecond"] = scanRate,
                ["verifyEventsPerSecond"] = verifyRate,
                ["ratio"] = verifyRate / scanRate,
            });
        }
        ratios.Sort();
        return new JsonObject
        {
            ["events"] = seeded,
            ["days"] = Days,
            ["sealsPerDay"] = sealsPerDay,
            ["rounds"] = results,
            ["medianRatio"] = ratios.Count == 0 ? 0 : ratios[ratios.Count / 2],
            ["medianVerifyEventsPerSecond"] = results.Select(r => (double)r!["verifyEventsPerSecond"]!).Order().ElementAtOrDefault(results.Count / 2),
        };
    }

    private static string Event(string ws, int i, DateTimeOffset at) => new JsonObject
    {
        ["id"] = $"evt_{i:D7}",
        ["workspaceId"] = ws,
        ["type"] = "Source Disabled",
        ["timestamp"] = at.ToString("O", CultureInfo.InvariantCulture),
        ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 37}", ["name"] = "Ada Lovelace", ["email"] = "ada@example.com" },
        ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 11}", ["name"] = "Website" },
        ["context"] = new JsonObject { ["ip"] = "203.0.113.7", ["userAgent"] = "Mozilla/5.0", ["requestId"] = $"req_{i}" },
        ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
        ["properties"] = new JsonObject { ["reason"] = "maintenance" },
    }.ToJsonString();
}
