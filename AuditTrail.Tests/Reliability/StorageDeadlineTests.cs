using System.Net;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Storage that takes connections and never answers (a frozen emulator, a wedged front end), behind
/// <see cref="FaultProxy"/>: with the clients' own defaults (30 s a try, five tries) a request would
/// wait minutes; the request deadline answers 503 within it, and a replay afterwards stores each
/// event once.
/// </summary>
public sealed class StorageDeadlineTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The deadline under test, and the clients' defaults it must cut short.</summary>
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["AuditStorage:Retry:RequestDeadline"] = "00:00:02",
        ["AuditStorage:Retry:TryTimeout"] = "00:00:30",
    };

    /// <summary>Far past the deadline and far short of what the tries alone would take (4 × 30 s).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Hung_storage_answers_an_ingest_503_within_the_deadline_and_a_replay_stores_each_event_once()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 3, settings: Settings);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_hung", 30);
        // The claims go through; the rows' transactions are taken and never answered.
        storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.Timeout, TimeSpan.FromMinutes(5)) : null;

        using var patience = Bounded();
        var response = await http.PostAsync($"/api/workspaces/{ws}/audit-events", Body(events), patience.Token);

        await AssertDeadlinePassedAsync(response);
        storage.Faults = _ => null;
        var replay = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, events));
        Assert.Equal(30, replay.GetProperty("accepted").GetInt32() + replay.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, replay.GetProperty("rejectedCount").GetInt32());
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }

    [Fact]
    public async Task Hung_storage_answers_a_query_503_within_the_deadline()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 3, settings: Settings);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        Assert.Equal(HttpStatusCode.OK, (await StoredTrail.PostAsync(http, ws, StoredTrail.Events(ws, "evt_q", 5))).StatusCode);
        storage.Faults = r => r.Method == "GET" && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.Timeout, TimeSpan.FromMinutes(5)) : null;

        using var patience = Bounded();
        var response = await http.GetAsync($"/api/workspaces/{ws}/audit-events", patience.Token);

        await AssertDeadlinePassedAsync(response);
        Assert.Contains(storage.Seen, s => s.Fault == FaultKind.Timeout);
    }

    [Fact]
    public async Task Hung_token_check_answers_503_within_the_deadline_not_401()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 3, settings: Settings);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        storage.Faults = r => r.Touches("AccessTokens") ? new Fault(FaultKind.Timeout, TimeSpan.FromMinutes(5)) : null;

        using var patience = Bounded();
        var response = await http.GetAsync($"/api/workspaces/{ws}/audit-events", patience.Token);

        await AssertDeadlinePassedAsync(response);
    }

    private static CancellationTokenSource Bounded()
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Patience);
        return cts;
    }

    private static StringContent Body(IEnumerable<System.Text.Json.Nodes.JsonObject> events) =>
        new(TestEvents.Array([.. events]), System.Text.Encoding.UTF8, "application/json");

    private static async Task AssertDeadlinePassedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("storage_unavailable", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal("Audit storage did not answer within 2 s; nothing from this request was acknowledged. Retry later.", problem.RootElement.GetProperty("detail").GetString());
    }
}
