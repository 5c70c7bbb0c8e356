using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;

namespace AuditTrail.Benchmarks;

/// <summary>
/// A bounded load run of the real app in standalone mode (its own process, Kestrel on loopback):
/// several concurrent HTTP producers send every event once, and re-send a share of the batches as a
/// producer retrying would, then storage is read directly to prove each event is stored exactly once.
/// Producers honour 503 + Retry-After and send again, so a refused batch is counted as an error but
/// never lost. Reports throughput, per-request latency percentiles, errors and the exactly-once check.
/// </summary>
public static class LoadBenchmark
{
    private const int MaxTriesPerBatch = 10;

    public sealed record Options(int Events = 100_000, int Producers = 8, int BatchSize = 500, int Workspaces = 4, double Overlap = 0.1);

    private sealed record Batch(int Number, string WorkspaceId, string Body, int Count, bool Resend);

    public static async Task<JsonObject> RunAsync(string storageConnectionString, Options options, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var clients = RegisteredStorage.Create(storageConnectionString);
        var run = Guid.NewGuid().ToString("N")[..8];
        var workspaces = Enumerable.Range(0, options.Workspaces).Select(w => $"load_{run}_{w}").ToList();
        var tokens = new Dictionary<string, string>();
        foreach (var ws in workspaces)
        {
            tokens[ws] = await StandaloneApp.IngestTokenAsync(clients, ws, ct);
        }

        var batches = Plan(workspaces, options, out var expectedIds);
        var resends = batches.Count(b => b.Resend);
        log.WriteLine($"load: {options.Events} events in {batches.Count - resends} batches of up to {options.BatchSize} over {options.Workspaces} workspaces, {resends} batches sent twice, {options.Producers} producers");

        await using var app = await StandaloneApp.StartAsync(storageConnectionString, new Dictionary<string, string>
        {
            // Per-request information logs would be the app's main cost at this rate.
            ["Logging:LogLevel:Default"] = "Warning",
            ["AuditTrail:Timers"] = "false",
        }, ct);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Producers })
        {
            BaseAddress = app.BaseAddress,
            Timeout = TimeSpan.FromMinutes(5),
        };

        var queue = new ConcurrentQueue<(Batch Batch, int Try)>(batches.Select(b => (b, 1)));
        var latencies = new ConcurrentBag<double>();
        var resendLatencies = new ConcurrentBag<double>();
        long accepted = 0, duplicates = 0, rejected = 0, errors = 0, requests = 0;
        var failures = new ConcurrentQueue<string>();
        var lost = new ConcurrentBag<int>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, options.Producers).Select(_ => Task.Run(async () =>
        {
            while (queue.TryDequeue(out var work))
            {
                var (batch, attempt) = work;
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{batch.WorkspaceId}/audit-events")
                {
                    Content = new StringContent(batch.Body, Encoding.UTF8, "application/json"),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[batch.WorkspaceId]);
                var timer = Stopwatch.StartNew();
                TimeSpan? retryAfter = null;
                try
                {
                    Interlocked.Increment(ref requests);
                    using var response = await http.SendAsync(request, ct);
                    var body = await response.Content.ReadAsStringAsync(ct);
                    latencies.Add(timer.Elapsed.TotalMilliseconds);
                    if (batch.Resend)
                    {
                        resendLatencies.Add(timer.Elapsed.TotalMilliseconds);
                    }
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        using var answer = JsonDocument.Parse(body);
                        Interlocked.Add(ref accepted, answer.RootElement.GetProperty("accepted").GetInt32());
                        Interlocked.Add(ref duplicates, answer.RootElement.GetProperty("duplicates").GetInt32());
                        Interlocked.Add(ref rejected, answer.RootElement.GetProperty("rejectedCount").GetInt32());
                        continue;
                    }
                    failures.Enqueue($"batch {batch.Number}: {(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
                    retryAfter = response.Headers.RetryAfter?.Delta;
                }
                catch (HttpRequestException ex)
                {
                    failures.Enqueue($"batch {batch.Number}: {ex.Message}");
                }
                Interlocked.Increment(ref errors);
                if (attempt >= MaxTriesPerBatch)
                {
                    lost.Add(batch.Number);
                    continue;
                }
                // As a well-behaved producer: wait as told, then send the same batch again.
                await Task.Delay(retryAfter ?? TimeSpan.FromSeconds(1), ct);
                queue.Enqueue((batch, attempt + 1));
            }
        }, ct)));
        clock.Stop();
        var exitCode = await app.StopAsync(TimeSpan.FromSeconds(60));
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load: sent in {clock.Elapsed.TotalSeconds:F1} s; verifying storage..."));

        var verify = Stopwatch.StartNew();
        var (claims, primaryRows, missing, extra) = await VerifyAsync(clients, workspaces, expectedIds, ct);
        verify.Stop();

        var sorted = latencies.Order().ToList();
        double Percentile(double p) => At(sorted, p);
        static double At(List<double> values, double p) => values.Count == 0 ? 0 : values[Math.Max(0, Math.Min(values.Count - 1, (int)Math.Ceiling(p * values.Count) - 1))];
        var resent = resendLatencies.Order().ToList();
        var resentEvents = batches.Where(b => b.Resend).Sum(b => b.Count);
        var exactlyOnce = missing == 0 && extra == 0 && claims == options.Events && primaryRows == options.Events
                          && accepted == options.Events && duplicates == resentEvents && rejected == 0 && lost.IsEmpty;
        var result = new JsonObject
        {
            ["benchmark"] = "load-standalone-http",
            ["events"] = options.Events,
            ["producers"] = options.Producers,
            ["batchSize"] = options.BatchSize,
            ["workspaces"] = options.Workspaces,
            ["batchesSentTwice"] = resends,
            ["requests"] = requests,
            ["seconds"] = clock.Elapsed.TotalSeconds,
            ["eventsPerSecond"] = options.Events / clock.Elapsed.TotalSeconds,
            ["eventsPerSecondIncludingResends"] = (options.Events + resentEvents) / clock.Elapsed.TotalSeconds,
            ["latencyMs"] = new JsonObject { ["p50"] = Percentile(0.50), ["p95"] = Percentile(0.95), ["p99"] = Percentile(0.99), ["max"] = sorted.Count == 0 ? 0 : sorted[^1] },
            // Re-sent batches take the duplicate path (each id settled on its own), so they are shown apart too.
            ["resendLatencyMs"] = new JsonObject { ["p50"] = At(resent, 0.50), ["p95"] = At(resent, 0.95), ["max"] = resent.Count == 0 ? 0 : resent[^1] },
            ["errors"] = errors,
            ["firstErrors"] = new JsonArray([.. failures.Take(5).Select(f => JsonValue.Create(f))]),
            ["lostBatches"] = lost.Count,
            ["accepted"] = accepted,
            ["duplicates"] = duplicates,
            ["expectedDuplicates"] = (long)resentEvents,
            ["rejected"] = rejected,
            ["storedClaims"] = claims,
            ["storedPrimaryRows"] = primaryRows,
            ["missingEvents"] = missing,
            ["unexpectedOrRepeatedEvents"] = extra,
            ["exactlyOnce"] = exactlyOnce,
            ["appExitCode"] = exitCode,
            ["verifySeconds"] = verify.Elapsed.TotalSeconds,
        };
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"load: {options.Events / clock.Elapsed.TotalSeconds:F0} events/s; latency per {options.BatchSize}-event request p50 {Percentile(0.5):F0} ms, p95 {Percentile(0.95):F0} ms, p99 {Percentile(0.99):F0} ms; errors {errors}; exactly once: {exactlyOnce} (claims {claims}, primary rows {primaryRows}, missing {missing}, extra {extra}); app exit code {exitCode}"));
        return result;
    }

    /// <summary>The batches in sending order: each event once, plus a share of batches again, a little later, as a retrying producer sends them.</summary>
    private static List<Batch> Plan(List<string> workspaces, Options options, out Dictionary<string, HashSet<string>> expectedIds)
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        string[] types = ["Source Modified", "Source Disabled", "Integrations Enabled", "Warehouses Modified", "Audience Run Failed"];
        expectedIds = workspaces.ToDictionary(w => w, _ => new HashSet<string>(StringComparer.Ordinal));
        var originals = new List<Batch>();
        for (var w = 0; w < workspaces.Count; w++)
        {
            var ws = workspaces[w];
            var mine = Enumerable.Range(0, options.Events).Where(i => i % workspaces.Count == w).ToList();
            foreach (var chunk in mine.Chunk(options.BatchSize))
            {
                var events = new JsonArray();
                foreach (var i in chunk)
                {
                    var id = $"evt_{i:D7}";
                    expectedIds[ws].Add(id);
                    events.Add(new JsonObject
                    {
                        ["id"] = id,
                        ["type"] = types[i % types.Length],
                        // Within the last hour or so: one day partition per workspace, as a busy workspace has.
                        ["timestamp"] = now.AddMilliseconds(-20L * i).ToString("O", CultureInfo.InvariantCulture),
                        ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 37}", ["name"] = "Ada Lovelace", ["email"] = "ada@example.com" },
                        ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 11}", ["name"] = "Website / prod" },
                        ["context"] = new JsonObject { ["ip"] = "203.0.113.7", ["userAgent"] = "load-run", ["requestId"] = $"req_{i}" },
                        ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
                    });
                }
                originals.Add(new Batch(originals.Count, ws, events.ToJsonString(), chunk.Length, false));
            }
        }
        // Interleave workspaces, so producers write to all of them at once.
        var ordered = originals.OrderBy(b => b.Number % Math.Max(1, originals.Count / workspaces.Count)).ThenBy(b => b.WorkspaceId, StringComparer.Ordinal).ToList();
        var random = new Random(8);
        var plan = new List<Batch>(ordered);
        foreach (var again in ordered.Where(_ => random.NextDouble() < options.Overlap).ToList())
        {
            // A few positions later: the first send may still be in flight on another producer.
            var at = Math.Min(plan.Count, plan.IndexOf(again) + 1 + random.Next(options.Producers * 2));
            plan.Insert(at, again with { Resend = true });
        }
        return plan;
    }

    /// <summary>Reads each workspace's claims and primary rows straight from the tables.</summary>
    private static async Task<(long Claims, long PrimaryRows, int Missing, int Extra)> VerifyAsync(
        RegisteredStorage clients, List<string> workspaces, Dictionary<string, HashSet<string>> expected, CancellationToken ct)
    {
        var ids = clients.Tables.GetTableClient(TrailTables.EventIdsTable);
        var events = clients.Tables.GetTableClient(TrailTables.EventsTable);
        var days = clients.Tables.GetTableClient(TrailTables.WorkspaceDaysTable);
        long claims = 0, primaryRows = 0;
        int missing = 0, extra = 0;
        foreach (var ws in workspaces)
        {
            var claimed = new Dictionary<string, int>(StringComparer.Ordinal);
            await foreach (var row in ids.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ws}"), cancellationToken: ct))
            {
                var c = EventClaim.From(row);
                if (c.Door != IngestDoors.System)
                {
                    claims++;
                    claimed[c.EventId!] = claimed.GetValueOrDefault(c.EventId!) + 1;
                }
            }
            var rows = new Dictionary<string, int>(StringComparer.Ordinal);
            await foreach (var day in days.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ws}"), cancellationToken: ct))
            {
                var partition = $"{ws}_{day.RowKey}";
                await foreach (var r in events.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {"e_"} and RowKey lt {"e`"}"), cancellationToken: ct))
                {
                    if (EventRows.Door(r) != IngestDoors.System)
                    {
                        primaryRows++;
                        rows[EventRows.EventId(r)!] = rows.GetValueOrDefault(EventRows.EventId(r)!) + 1;
                    }
                }
            }
            missing += expected[ws].Count(id => !claimed.ContainsKey(id) || !rows.ContainsKey(id));
            extra += claimed.Count(c => c.Value != 1 || !expected[ws].Contains(c.Key)) + rows.Count(r => r.Value != 1 || !expected[ws].Contains(r.Key));
        }
        return (claims, primaryRows, missing, extra);
    }
}
