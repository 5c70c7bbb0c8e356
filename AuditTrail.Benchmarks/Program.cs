using System.Text.Json;

namespace AuditTrail.Benchmarks;

/// <summary>The benchmark command line (a named class, so the test project can reference this assembly beside the app's Program).</summary>
public static class BenchmarkCommand
{
    public static async Task<int> Main(string[] args)
    {
        // usage: AuditTrail.Benchmarks purge [--events N] [--workspaces W] [--rounds R] [--out FILE]
        //        AuditTrail.Benchmarks load [--events N] [--producers P] [--batch B] [--workspaces W] [--overlap PERCENT] [--out FILE]
        //        AuditTrail.Benchmarks export [--sizes 10000,100000] [--writer-sizes 10000,100000,1000000] [--rounds R] [--out FILE]
        // Storage: AUDITTRAIL_BENCH_STORAGE (scripts/bench sets it), else UseDevelopmentStorage=true.
        const string Usage = """
            usage: AuditTrail.Benchmarks purge  [--events N] [--workspaces W] [--rounds R] [--out FILE]
                   AuditTrail.Benchmarks export [--sizes 10000,100000] [--writer-sizes 10000,100000,1000000] [--rounds R] [--out FILE]
                   AuditTrail.Benchmarks ingest [--events N] [--rounds R] [--ledger] [--out FILE]
                   AuditTrail.Benchmarks query  [--events N] [--days D] [--repetitions R] [--latency-ms L] [--out FILE]
                                                (L > 0: every measured storage request is held L ms, a round trip to a service that answers in index time)
                   AuditTrail.Benchmarks activity [--events N] [--days D] [--repetitions R] [--latency-ms L] [--out FILE]
                                                (the activity chart's 90-day counts vs the first page of the same view)
                   AuditTrail.Benchmarks integrity [--events 10000] [--seals-per-day 2] [--rounds 3] [--out FILE]
                                                (verification of one workspace's 90 days vs a plain scan of the same rows)
                   AuditTrail.Benchmarks cpu    [--out FILE]   (BenchmarkDotNet, in-process, short runs)
                   AuditTrail.Benchmarks invocation [--messages 100] [--message-bytes 1000000] [--rounds 3] [--out FILE]
                                                (the app's peak resident memory for one Event Hubs invocation of that size)
                   AuditTrail.Benchmarks load   [--events 100000] [--producers 8] [--batch 500] [--workspaces 4] [--overlap 10] [--out FILE]
                                                (the app in standalone mode over real HTTP; exits 1 unless every event is stored exactly once)
                   AuditTrail.Benchmarks telemetry [--events 5000] [--rounds 3] [--out FILE]
                                                (ingest traced / not traced, paired per batch)
            """;
        if (args.Length == 0 || args[0] is not ("purge" or "export" or "ingest" or "query" or "activity" or "cpu" or "load" or "invocation" or "telemetry" or "integrity"))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        int Option(string name, int fallback) =>
            Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        var outFile = Array.IndexOf(args, "--out") is var o and >= 0 && o + 1 < args.Length ? args[o + 1] : $"artifacts/bench/{args[0]}.json";

        var connection = Environment.GetEnvironmentVariable("AUDITTRAIL_BENCH_STORAGE") ?? "UseDevelopmentStorage=true";
        using var clients = RegisteredStorage.Create(connection);
        List<int> Sizes(string name, string fallback) =>
            (Array.IndexOf(args, name) is var z and >= 0 && z + 1 < args.Length ? args[z + 1] : fallback)
            .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
        var result = args[0] switch
        {
            "purge" => await PurgeBenchmark.RunAsync(clients, Option("--events", 10_000), Option("--workspaces", 4), Option("--rounds", 3), Console.Out, CancellationToken.None),
            "export" => await ExportMemoryBenchmark.RunAsync(clients, Sizes("--sizes", "10000,100000"), Sizes("--writer-sizes", "10000,100000,1000000"), Option("--rounds", 3), Console.Out, CancellationToken.None),
            "ingest" => await IngestBenchmark.RunAsync(clients, Option("--events", 20_000), Option("--rounds", 3), Console.Out, CancellationToken.None, ledger: args.Contains("--ledger")),
            "telemetry" => await TelemetryBenchmark.RunAsync(connection, Option("--events", 5_000), Option("--rounds", 3), Console.Out, CancellationToken.None),
            "query" => await QueryBenchmark.RunAsync(clients, Option("--events", 100_000), Option("--repetitions", 20), Console.Out, CancellationToken.None, Option("--latency-ms", 0), Option("--days", 89)),
            "activity" => await ActivityBenchmark.RunAsync(clients, Option("--events", 20_000), Option("--repetitions", 10), Console.Out, CancellationToken.None, Option("--latency-ms", 0), Option("--days", 89)),
            "invocation" => await InvocationMemoryBenchmark.RunAsync(connection, Option("--messages", 100), Option("--message-bytes", 1_000_000), Option("--rounds", 3), Console.Out, CancellationToken.None),
            "load" => await LoadBenchmark.RunAsync(connection, new LoadBenchmark.Options(
                Option("--events", 100_000), Option("--producers", 8), Option("--batch", 500), Option("--workspaces", 4), Option("--overlap", 10) / 100.0), Console.Out, CancellationToken.None),
            "integrity" => await IntegrityBenchmark.RunAsync(connection, Option("--events", 10_000), Option("--seals-per-day", 2), Option("--rounds", 3), Console.Out, CancellationToken.None),
            _ => CpuBenchmarks.Run(Console.Out),
        };

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
        await File.WriteAllTextAsync(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(args[0] switch
        {
            "purge" => $"median ratio purge/raw: {(double)result["medianRatio"]!:F2} (target >= 0.8); written to {outFile}",
            "telemetry" => $"median ratio ingest traced/untraced: {(double)result["medianRatio"]!:F2} (ratio of totals {(double)result["ratioOfTotals"]!:F2}, {(long)result["spansExported"]!} spans); written to {outFile}",
            "ingest" => $"median ratio ingest/raw in order: {(double)result["medianRatio"]!:F2} (target >= 0.9); to raw all at once: {(double)result["medianRatioToAllAtOnce"]!:F2}; written to {outFile}",
            "query" => $"first-page p50/p95 ratios to the raw range query: {string.Join(", ", result["filters"]!.AsArray().Select(f => $"{f!["filter"]} {(double)f["ratioP50"]!:F2}/{(double)f["ratioP95"]!:F2}"))} (target <= 2); written to {outFile}",
            "activity" => $"activity (90 days) p50/p95 as ratios to the first page of the same view: {string.Join(", ", result["filters"]!.AsArray().Select(f => $"{f!["filter"]} {(double)f["ratioP50"]!:F2}/{(double)f["ratioP95"]!:F2}"))}; written to {outFile}",
            "load" => $"{(double)result["eventsPerSecond"]!:F0} events/s, p50/p95/p99 {(double)result["latencyMs"]!["p50"]!:F0}/{(double)result["latencyMs"]!["p95"]!:F0}/{(double)result["latencyMs"]!["p99"]!:F0} ms per request, {(long)result["errors"]!} errors, exactly once: {(bool)result["exactlyOnce"]!}; written to {outFile}",
            "invocation" => $"peak memory for {(int)result["messages"]!} messages of {(int)result["messageBytes"]!} bytes: +{(long)result["medianPeakGrowthBytes"]! / 1e6:F0} MB, {(double)result["ratioToPayload"]!:F2}x the {(long)result["payloadBytes"]! / 1e6:F0} MB payload (100 small events: +{(long)result["medianBaselinePeakGrowthBytes"]! / 1e6:F1} MB); written to {outFile}",
            "integrity" => $"median ratio verification/plain scan, events/s: {(double)result["medianRatio"]!:F2} ({(double)result["medianVerifyEventsPerSecond"]!:F0} events/s verified); written to {outFile}",
            "cpu" => $"parse+validate+map: {(double)result["ingestEventsPerSecond"]!:F0} events/s on one core (target >= 200000); written to {outFile}",
            _ => $"live peak (steady) ratios to the smallest size: end to end {Ratios("endToEnd")}; writer {Ratios("writer")}; written to {outFile}",
        });
        return args[0] == "load" && !(bool)result["exactlyOnce"]! ? 1 : 0;

        string Ratios(string kind) => string.Join(", ", result[kind]!.AsArray().Select(r => string.Create(CultureInfo.InvariantCulture,
            $"{(double)r!["livePeakRatioToSmallest"]!:F2} ({(double)r["liveSteadyRatioToSmallest"]!:F2})")));
    }
}
