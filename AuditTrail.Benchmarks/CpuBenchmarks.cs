using AuditTrail.Core.Events;
using AuditTrail.Core.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using CsvHelper;

namespace AuditTrail.Benchmarks;

/// <summary>Events shaped like a busy workspace's: users and tokens, several types, changes and properties.</summary>
public static class SampleEvents
{
    public static IReadOnlyList<RawEvent> Raw(int count, string workspaceId = "ws_bench")
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-10);
        string[] types = ["Source Modified", "Source Disabled", "Integrations Enabled", "Warehouses Modified", "Audience Run Failed"];
        return Enumerable.Range(0, count).Select(i => RawEvent.FromText(new JsonObject
        {
            ["id"] = $"evt_{i:D8}_{Guid.NewGuid():N}",
            ["workspaceId"] = workspaceId,
            ["type"] = types[i % types.Length],
            ["timestamp"] = now.AddSeconds(-i).ToString("O", CultureInfo.InvariantCulture),
            ["actor"] = new JsonObject { ["type"] = i % 4 == 0 ? "token" : "user", ["id"] = $"usr_{i % 37}", ["name"] = "Ada Lovelace", ["email"] = "ada@example.com" },
            ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 11}", ["name"] = "Website / prod" },
            ["context"] = new JsonObject { ["ip"] = "203.0.113.7", ["userAgent"] = "Mozilla/5.0 (X11; Linux x86_64)", ["requestId"] = $"req_{i}" },
            ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
            ["properties"] = new JsonObject { ["reason"] = "maintenance", ["ticket"] = $"OPS-{i % 1000}" },
        }.ToJsonString())).ToList();
    }
}

/// <summary>The ingest CPU path per event: parse and validate, content hash, the four rows.</summary>
[MemoryDiagnoser]
public class IngestCpuBenchmark
{
    public const int Events = 1000;
    private IReadOnlyList<RawEvent> _raw = [];
    private DateTimeOffset _now;

    [GlobalSetup]
    public void Setup()
    {
        _raw = SampleEvents.Raw(Events);
        _now = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// The same-run baseline: only parsing the same events into a JsonDocument, which any reader of
    /// them must at least do. The machines are noisy; the ratio to this is what stays comparable.
    /// </summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Events, Description = "JSON parse only (baseline), per event")]
    public int ParseOnly()
    {
        var objects = 0;
        for (var i = 0; i < _raw.Count; i++)
        {
            using var document = System.Text.Json.JsonDocument.Parse(_raw[i].RawText);
            objects += document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object ? 1 : 0;
        }
        return objects;
    }

    [Benchmark(OperationsPerInvoke = Events, Description = "parse+validate+map, per event")]
    public int ParseValidateMap()
    {
        var rows = 0;
        for (var i = 0; i < _raw.Count; i++)
        {
            var e = AuditEventReader.Read(_raw[i], i, null, _now).Event!;
            rows += EventRows.Create(e, EventRows.ContentHash(e), _now, IngestDoors.Http).Length;
        }
        return rows;
    }

    /// <summary>
    /// The same path with the rows as the SDK's own <see cref="Azure.Data.Tables.TableEntity"/>, one
    /// dictionary each, as a design without <see cref="EventRow"/> would build them: measured beside
    /// it, so the custom entity's saving is a same-run figure, not a claim.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Events, Description = "parse+validate+map with SDK TableEntity rows, per event")]
    public int ParseValidateMapSdkEntities()
    {
        var rows = 0;
        for (var i = 0; i < _raw.Count; i++)
        {
            var e = AuditEventReader.Read(_raw[i], i, null, _now).Event!;
            foreach (var row in EventRows.Create(e, EventRows.ContentHash(e), _now, IngestDoors.Http))
            {
                rows += new Azure.Data.Tables.TableEntity(row).Count > 0 ? 1 : 0;
            }
        }
        return rows;
    }
}

/// <summary>Row-key encoding of hostile and long ids, per key.</summary>
[MemoryDiagnoser]
public class KeyEncodingBenchmark
{
    private const int Keys = 1000;
    private string[] _ids = [];

    [GlobalSetup]
    public void Setup() => _ids = Enumerable.Range(0, Keys)
        .Select(i => (i % 3) switch { 0 => $"usr_{i}", 1 => $"x' or PartitionKey ne '{i}/\\#?", _ => new string('a', 120) + i })
        .ToArray();

    [Benchmark(OperationsPerInvoke = Keys, Description = "actor row key, per key")]
    public int ActorRowKeys()
    {
        var length = 0;
        var t = DateTimeOffset.UtcNow;
        foreach (var id in _ids)
        {
            length += TrailKeys.ActorRowKey(id, t, id).Length;
        }
        return length;
    }
}

/// <summary>Continuation tokens (HMAC-signed, bound to the filters), per token. Needs storage once, for the key.</summary>
[MemoryDiagnoser]
public class ContinuationBenchmark : IDisposable
{
    private RegisteredStorage? _clients;
    private TrailTables? _store;
    private ContinuationTokens _tokens = null!;
    private AuditQuery _query = null!;
    private string _token = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _clients = RegisteredStorage.Create(Environment.GetEnvironmentVariable("AUDITTRAIL_BENCH_STORAGE") ?? "UseDevelopmentStorage=true");
        _store = new TrailTables(_clients.Tables, _clients.Blobs);
        _store.EnsureCreatedAsync().GetAwaiter().GetResult();
        _tokens = new ContinuationTokens(_store);
        var now = DateTimeOffset.UtcNow;
        _query = new AuditQuery("ws_bench", now.AddDays(-90), now, ["Source Modified"], null, "usr_1", null, null, null, 50);
        _token = _tokens.EncodeAsync(new QueryPosition("20261120", "0251234567890123456_evt_1"), _query, CancellationToken.None).GetAwaiter().GetResult();
    }

    [Benchmark(Description = "continuation encode")]
    public Task<string> Encode() => _tokens.EncodeAsync(new QueryPosition("20261120", "0251234567890123456_evt_1"), _query, CancellationToken.None);

    [Benchmark(Description = "continuation decode+verify")]
    public Task<QueryPosition> Decode() => _tokens.DecodeAsync(_token, _query, CancellationToken.None);

    [GlobalCleanup]
    public void Dispose()
    {
        _clients?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>CSV export rows (quoting, formula neutralization, details JSON), per row.</summary>
[MemoryDiagnoser]
public class CsvRowBenchmark
{
    private const int Rows = 1000;
    private AuditEvent[] _events = [];

    [GlobalSetup]
    public void Setup()
    {
        var now = DateTimeOffset.UtcNow;
        _events = SampleEvents.Raw(Rows).Select((r, i) => AuditEventReader.Read(r, i, null, now).Event!).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Rows, Description = "CSV row, per row")]
    public void WriteRows()
    {
        using var writer = new StreamWriter(Stream.Null);
        using var csv = new CsvWriter(writer, AuditCsv.Configuration);
        foreach (var e in _events)
        {
            AuditCsv.WriteRow(csv, e);
        }
    }
}

/// <summary>Runs the CPU benchmarks with BenchmarkDotNet (in-process, short runs) and summarizes them.</summary>
public static class CpuBenchmarks
{
    public static JsonObject Run(TextWriter log)
    {
        var config = BenchmarkDotNet.Configs.ManualConfig.Create(BenchmarkDotNet.Configs.DefaultConfig.Instance)
            // Longer than ShortRun: with three warm-ups the JIT had not always finished tiering up.
            .AddJob(BenchmarkDotNet.Jobs.Job.ShortRun.WithWarmupCount(8).WithIterationCount(8)
                .WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance))
            .WithArtifactsPath(Path.Combine("artifacts", "bench", "bdn"))
            .WithOptions(BenchmarkDotNet.Configs.ConfigOptions.DisableOptimizationsValidator);
        var summaries = BenchmarkDotNet.Running.BenchmarkRunner.Run([typeof(IngestCpuBenchmark), typeof(KeyEncodingBenchmark), typeof(ContinuationBenchmark), typeof(CsvRowBenchmark)], config);
        var rows = new JsonArray();
        double ingestRate = 0, ingestNs = 0, parseNs = 0, sdkEntitiesNs = 0;
        foreach (var report in summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics is not null))
        {
            var name = report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo;
            var nsPerOp = report.ResultStatistics!.Mean;
            var perSecond = 1e9 / nsPerOp;
            if (report.BenchmarkCase.Descriptor.Type == typeof(IngestCpuBenchmark))
            {
                if (report.BenchmarkCase.Descriptor.Baseline)
                {
                    parseNs = nsPerOp;
                }
                else if (report.BenchmarkCase.Descriptor.WorkloadMethod.Name == nameof(IngestCpuBenchmark.ParseValidateMapSdkEntities))
                {
                    sdkEntitiesNs = nsPerOp;
                }
                else
                {
                    ingestRate = perSecond;
                    ingestNs = nsPerOp;
                }
            }
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {nsPerOp:F0} ns ({perSecond:F0}/s), {allocated} B allocated"));
            rows.Add(new JsonObject { ["benchmark"] = name, ["nsPerOperation"] = Math.Round(nsPerOp, 1), ["perSecond"] = Math.Round(perSecond), ["bytesAllocatedPerOperation"] = allocated });
        }
        var ratio = parseNs > 0 ? ingestNs / parseNs : double.NaN;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse+validate+map takes {ratio:F2}x a bare JsonDocument.Parse of the same events (same run)"));
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"with the SDK's TableEntity rows instead of EventRow it takes {sdkEntitiesNs / parseNs:F2}x ({1e9 / sdkEntitiesNs:F0} events/s)"));
        return new JsonObject
        {
            ["benchmark"] = "cpu-paths", ["results"] = rows, ["ingestEventsPerSecond"] = Math.Round(ingestRate),
            ["ingestToParseRatio"] = Math.Round(ratio, 2), ["sdkEntitiesToParseRatio"] = Math.Round(sdkEntitiesNs / parseNs, 2),
            ["sdkEntitiesEventsPerSecond"] = Math.Round(1e9 / sdkEntitiesNs), ["target"] = "parse+validate+map >= 200000 events/s on one core",
        };
    }
}
