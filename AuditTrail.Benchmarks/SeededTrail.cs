using System.Diagnostics;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Benchmarks;

/// <summary>
/// What the query and activity benchmarks read: a new workspace seeded over <c>days</c> days on a
/// clock standing at today's noon (UTC), the store their measured reads go through (with the round-trip model
/// when <c>latencyMs</c> &gt; 0), and the filter kinds they compare.
/// </summary>
internal sealed class SeededTrail : IDisposable
{
    private static readonly string[] Types = ["Source Modified", "Source Disabled", "Integrations Enabled", "Warehouses Modified", "Audience Run Failed"];

    private readonly RegisteredStorage? _measured;

    private readonly (int Events, int Days, int LatencyMs) _seeded;

    private SeededTrail(RegisteredStorage? measured, (int Events, int Days, int LatencyMs) seeded, TrailTables store, SettableClock clock, string workspaceId, DateTimeOffset now)
    {
        _measured = measured;
        _seeded = seeded;
        Store = store;
        Clock = clock;
        WorkspaceId = workspaceId;
        Now = now;
    }

    /// <summary>The store the measured reads use: through the round-trip model when one was asked for.</summary>
    public TrailTables Store { get; }

    public SettableClock Clock { get; }

    public string WorkspaceId { get; }

    /// <summary>The newest seeded event's time (a minute before the clock's now).</summary>
    public DateTimeOffset Now { get; }

    public static async Task<SeededTrail> CreateAsync(RegisteredStorage clients, int events, int days, int latencyMs, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        await store.EnsureCreatedAsync(ct);
        // A clock at noon UTC: the newest day partition then always holds half a day of events, so
        // whether a page fills from it does not depend on the hour the benchmark happens to run.
        var clock = new SettableClock(new DateTimeOffset(DateTime.UtcNow.Date.AddHours(12), TimeSpan.Zero));
        var ingestion = new IngestionService(store, new DeadLetterStore(store), clock, NullLogger<IngestionService>.Instance);
        var measured = latencyMs > 0 ? RegisteredStorage.Create(clients.ConnectionString, new RoundTrip(TimeSpan.FromMilliseconds(latencyMs))) : null;
        var (ws, now) = await SeedAsync(ingestion, clock, events, days, log, ct);
        return new SeededTrail(measured, (events, days, latencyMs), new TrailTables((measured ?? clients).Tables, (measured ?? clients).Blobs), clock, ws, now);
    }

    /// <summary>
    /// The filter kinds over the last 90 days, pages of <paramref name="limit"/>: the first four are
    /// the page's own filters (what the activity chart takes), the last two the API's others.
    /// </summary>
    public IReadOnlyList<(string Name, AuditQuery Query)> FilterKinds(int limit)
    {
        var start = Now.AddDays(-90);
        var end = Now.AddMinutes(5);
        AuditQuery Query(string[]? types = null, string? area = null, string? actorId = null, string? actorType = null, string? resourceType = null, string? resourceId = null) =>
            new(WorkspaceId, start, end, types ?? [], area, actorId, actorType, resourceType, resourceId, limit);
        return
        [
            ("no filter", Query()),
            ("type", Query(types: ["Integrations Enabled"])),
            ("actorId", Query(actorId: "usr_7")),
            ("resource", Query(resourceType: "source", resourceId: "src_13")),
            ("actorType", Query(actorType: "token")),
            ("productArea", Query(area: "Integrations")),
        ];
    }

    /// <summary>
    /// Each of <paramref name="measured"/> once a repetition, in that order, <paramref name="repetitions"/>
    /// times, so all of them meet the same storage; the p50 and p95 of each, in milliseconds.
    /// </summary>
    public static async Task<(double P50, double P95)[]> TimeInterleavedAsync(int repetitions, params Func<Task>[] measured)
    {
        var times = measured.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < repetitions; r++)
        {
            for (var i = 0; i < measured.Length; i++)
            {
                var t = Stopwatch.StartNew();
                await measured[i]();
                times[i].Add(t.Elapsed.TotalMilliseconds);
            }
        }
        return [.. times.Select(Percentiles)];
    }

    /// <summary>The result both benchmarks write: what was seeded and measured, and a row a filter kind.</summary>
    public JsonObject Report(string benchmark, int repetitions, JsonArray filters) => new()
    {
        ["benchmark"] = benchmark,
        ["events"] = _seeded.Events,
        ["days"] = _seeded.Days,
        ["latencyMs"] = _seeded.LatencyMs,
        ["repetitions"] = repetitions,
        ["filters"] = filters,
    };

    private static (double P50, double P95) Percentiles(List<double> values)
    {
        var sorted = values.Order().ToList();
        return (sorted[(int)Math.Round(0.50 * (sorted.Count - 1))], sorted[(int)Math.Round(0.95 * (sorted.Count - 1))]);
    }

    public void Dispose() => _measured?.Dispose();

    /// <summary>
    /// A new workspace with <paramref name="events"/> events spread evenly over <paramref name="days"/>
    /// days before the clock's now, five types, 20 actors (every tenth event a token's), 50 resources.
    /// </summary>
    private static async Task<(string WorkspaceId, DateTimeOffset Now)> SeedAsync(IngestionService ingestion, TimeProvider clock, int events, int days, TextWriter log, CancellationToken ct)
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

    /// <summary>Holds each request for a fixed time before sending it: a network round trip to a storage service that answers in index time.</summary>
    private sealed class RoundTrip(TimeSpan latency) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(latency, cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
