using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Benchmarks.Tests;

/// <summary>
/// Small runs of every benchmark harness, so they keep working; the figures themselves come from
/// full runs (docs/performance.md), never from the test suite, and nothing here asserts on timing.
/// </summary>
public sealed class BenchmarkSmokeTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ingest_harness_reports_a_ratio_per_round()
    {
        using var clients = azurite.CreateClients();

        var result = await IngestBenchmark.RunAsync(clients, events: 1000, rounds: 1, TextWriter.Null, Ct);

        var round = Assert.Single(result["rounds"]!.AsArray());
        Assert.Equal(1000, (int)round!["events"]!);
        Assert.True((int)round["entities"]! > 4000); // four rows and a claim per event, plus registries
        Assert.True((double)result["medianRatio"]! > 0);
    }

    [Fact]
    public async Task Query_harness_measures_every_filter_kind_against_the_raw_query()
    {
        using var clients = azurite.CreateClients();

        // With the round-trip model on, as the latency run uses it.
        var result = await QueryBenchmark.RunAsync(clients, events: 600, repetitions: 3, TextWriter.Null, Ct, latencyMs: 2, days: 5);

        var filters = result["filters"]!.AsArray();
        Assert.Equal(["no filter", "type", "actorId", "resource", "actorType", "productArea"], filters.Select(f => (string)f!["filter"]!));
        Assert.Equal(50, (int)filters[0]!["events"]!);
        Assert.All(filters, f => Assert.True((double)f!["ratioP50"]! > 0 && (int)f["events"]! > 0 && (double)f["readAheadOff"]!["ratioP50"]! > 0));
        Assert.Equal((2, 5), ((int)result["latencyMs"]!, (int)result["days"]!));
    }

    [Fact]
    public async Task Activity_harness_counts_every_seeded_event_and_reports_a_ratio_to_the_first_page()
    {
        using var clients = azurite.CreateClients();

        var result = await ActivityBenchmark.RunAsync(clients, events: 300, repetitions: 2, TextWriter.Null, Ct, latencyMs: 1, days: 5);

        var filters = result["filters"]!.AsArray();
        Assert.Equal(["no filter", "type", "actorId", "resource"], filters.Select(f => (string)f!["filter"]!));
        Assert.Equal(300, (long)filters[0]!["eventsCounted"]!);
        Assert.Equal(60, (long)filters[1]!["eventsCounted"]!); // one type in five
        Assert.All(filters, f => Assert.True((double)f!["ratioP50"]! > 0));
    }

    [Fact]
    public async Task Export_and_purge_harnesses_run()
    {
        using var clients = azurite.CreateClients();

        var export = await ExportMemoryBenchmark.RunAsync(clients, [300], [2000], writerRounds: 1, TextWriter.Null, Ct);
        var purge = await PurgeBenchmark.RunAsync(clients, events: 200, workspaces: 2, rounds: 1, TextWriter.Null, Ct);

        Assert.Equal(300, (long)export["endToEnd"]![0]!["rows"]!);
        Assert.Equal(2000, (long)export["writer"]![0]!["rows"]!);
        Assert.True((double)purge["medianRatio"]! > 0);
    }

    [Fact]
    public async Task Load_harness_drives_the_standalone_app_over_http_and_proves_each_event_stored_once()
    {
        var result = await LoadBenchmark.RunAsync(azurite.ConnectionString,
            new LoadBenchmark.Options(Events: 2000, Producers: 4, BatchSize: 200, Workspaces: 2, Overlap: 0.2), TextWriter.Null, Ct);

        Assert.True((bool)result["exactlyOnce"]!, result.ToJsonString());
        Assert.Equal(2000, (long)result["storedClaims"]!);
        Assert.Equal(2000, (long)result["accepted"]!);
        Assert.True((int)result["batchesSentTwice"]! > 0);
        Assert.Equal((long)result["expectedDuplicates"]!, (long)result["duplicates"]!);
        Assert.Equal(0, (long)result["errors"]!);
        Assert.Equal(0, (int)result["appExitCode"]!);
        Assert.True((double)result["latencyMs"]!["p50"]! > 0);
    }

    [Fact]
    public async Task Telemetry_benchmark_harness_reports_a_paired_ratio_and_exports_spans()
    {
        var result = await TelemetryBenchmark.RunAsync(azurite.ConnectionString, 1000, 1, TextWriter.Null, Ct);
        Assert.InRange((double)result["medianRatio"]!, 0.01, 100);
        Assert.True((long)result["spansExported"]! > 0);
    }

    [Fact]
    public void Cpu_benchmark_bodies_do_the_work_they_time()
    {
        var ingest = new IngestCpuBenchmark();
        ingest.Setup();
        var keys = new KeyEncodingBenchmark();
        keys.Setup();
        var csv = new CsvRowBenchmark();
        csv.Setup();

        Assert.Equal(IngestCpuBenchmark.Events * 4, ingest.ParseValidateMap());
        Assert.Equal(IngestCpuBenchmark.Events * 4, ingest.ParseValidateMapSdkEntities());
        Assert.True(keys.ActorRowKeys() > 0);
        csv.WriteRows();
    }
}

/// <summary>
/// The integrity harness seeds 90 days on a clock 2,000 days back; any purge another test runs on
/// the shared Azurite would take those days, so it has an Azurite of its own.
/// </summary>
public sealed class IntegrityBenchmarkSmokeTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Integrity_harness_verifies_a_seeded_workspace_against_a_plain_scan()
    {
        var result = await IntegrityBenchmark.RunAsync(azurite.ConnectionString, events: 360, sealsPerDay: 1, rounds: 1, TextWriter.Null, Ct);

        var round = Assert.Single(result["rounds"]!.AsArray());
        Assert.Equal(360, (long)round!["events"]!);
        Assert.Equal(4 * 360, (long)round["rows"]!);
        Assert.True((int)round["digests"]! >= 90);
        Assert.True((double)result["medianRatio"]! > 0);
    }
}
