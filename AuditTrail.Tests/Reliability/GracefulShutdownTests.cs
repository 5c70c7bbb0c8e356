using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// The real app in its own process (standalone: Kestrel, the in-process forwarder and timer all
/// running) stopped with SIGTERM while producers are sending: every batch it acknowledged is
/// stored, the batch it was writing when the signal came is finished and acknowledged, and the
/// process exits cleanly.
/// </summary>
public sealed partial class GracefulShutdownTests(AzuriteFixture azurite)
{
    private const int Producers = 4, BatchSize = 100, MaxBatchesEach = 40;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stopping_the_app_mid_ingest_loses_nothing_that_was_acknowledged()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        using var clients = azurite.CreateClients();
        var ws = TestEvents.NewWorkspaceId();
        var token = await StandaloneApp.IngestTokenAsync(clients, ws, Ct);
        await using var app = await StandaloneApp.StartAsync(storage.ConnectionString, new Dictionary<string, string> { ["AuditTrail:ShutdownTimeout"] = "00:00:45" }, Ct);
        using var http = new HttpClient { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var acknowledged = new ConcurrentDictionary<string, byte>();
        var refused = new ConcurrentQueue<string>();
        var stop = new TaskCompletionSource<(string Batch, Task<int> Exit)>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Rows are written slowly, so a batch is surely mid-write when the signal comes; the signal
        // is sent from inside such a write, once a few batches have been acknowledged.
        storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.Slow, TimeSpan.FromMilliseconds(1500)) : null;
        storage.OnRequest = r =>
        {
            if (r.IsTransaction && r.Touches(TrailTables.EventsTable) && acknowledged.Count >= 3 && !stop.Task.IsCompleted
                && BatchLabel().Match(r.Body) is { Success: true } batch)
            {
                stop.TrySetResult((batch.Groups[1].Value, app.StopAsync(TimeSpan.FromSeconds(90))));
            }
            return Task.CompletedTask;
        };

        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var b = 0; b < MaxBatchesEach; b++)
            {
                var label = $"p{p}b{b}";
                var events = Enumerable.Range(0, BatchSize).Select(i => (JsonNode)TestEvents.Event(ws, $"evt_{label}_{i:D3}")).ToArray();
                try
                {
                    var response = await http.PostAsync($"/api/workspaces/{ws}/audit-events", new StringContent(TestEvents.Array(events), Encoding.UTF8, "application/json"), Ct);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        acknowledged.TryAdd(label, 0);
                        continue;
                    }
                    refused.Enqueue($"{label}: {(int)response.StatusCode}");
                }
                catch (HttpRequestException ex)
                {
                    refused.Enqueue($"{label}: {ex.Message}");
                }
                return; // the app is going away: a producer would keep the batch and retry elsewhere
            }
        }, Ct)).ToList();
        await Task.WhenAll(producers);

        Assert.True(stop.Task.IsCompleted, "The app was never stopped: the producers finished first.\n" + app.Output);
        var (inFlight, exit) = await stop.Task;
        var exitCode = await exit;
        Assert.Equal(0, exitCode);
        Assert.Contains(inFlight, acknowledged.Keys); // drained, not cut off
        Assert.NotEmpty(refused); // the stop was real: later batches found no one listening
        Assert.DoesNotContain(app.Output.Split('\n'), l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));

        var rows = await StoredTrail.RowsPerEventAsync(clients, ws, StoredTrail.RecentDays());
        var claims = (await StoredTrail.ClaimedIdsAsync(clients, ws)).ToHashSet();
        foreach (var label in acknowledged.Keys)
        {
            for (var i = 0; i < BatchSize; i++)
            {
                var id = $"evt_{label}_{i:D3}";
                Assert.True(claims.Contains(id) && rows.GetValueOrDefault(id) == 4, $"Acknowledged event {id} is not stored whole (rows: {rows.GetValueOrDefault(id)}).");
            }
        }
        Assert.All(rows, r => Assert.True(r.Value <= 4, $"{r.Key} has {r.Value} rows."));
        TestContext.Current.TestOutputHelper?.WriteLine($"acknowledged {acknowledged.Count} batches, in flight at SIGTERM: {inFlight}; refused: {string.Join("; ", refused)}");
    }

    [GeneratedRegex("evt_(p[0-9]+b[0-9]+)_")]
    private static partial Regex BatchLabel();
}
