using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using Azure.Storage.Queues.Models;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Forwarding;

/// <summary>
/// Forwarding end to end against Azurite and a local tracking-API receiver: ingest over HTTP,
/// work on the real <c>audit-forward</c> queue, the standalone forwarder polled by the test.
/// One class, so its tests (which share the queue) run one after another.
/// </summary>
public sealed partial class ForwardingTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly CollectedLogs _logs = new();
    private AuditTrailAppFactory _app = null!;
    private HttpClient _http = null!;

    public ValueTask InitializeAsync()
    {
        _app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:RetryDelay"] = "00:00:00",
            ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
        }, logs: _logs);
        _http = _app.CreateClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Each_event_reaches_the_source_once_in_the_tracking_format()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        var events = Enumerable.Range(0, 300).Select(i => TestEvents.Event(ws, actorType: i % 3 == 0 ? "token" : "user", actorId: $"act_{i % 7}")).ToList();
        await IngestAsync(ws, token, events.Take(150));
        await IngestAsync(ws, token, events.Skip(150));

        await DrainAsync();

        Assert.Empty(receiver.Violations);
        var ids = events.Select(e => (string)e["id"]!).ToHashSet();
        var calls = receiver.AcceptedCalls.Where(c => c.GetProperty("properties").GetProperty("workspaceId").GetString() == ws
                                                      && c.GetProperty("event").GetString() != "Audit Forwarding Settings Changed").ToList();
        Assert.Equal(300, calls.Count);
        Assert.Equal(ids, calls.Select(c => c.GetProperty("messageId").GetString()!).ToHashSet());
        var userCall = calls.First(c => c.GetProperty("properties").GetProperty("actorType").GetString() == "user");
        Assert.Equal("Source Disabled", userCall.GetProperty("event").GetString());
        Assert.StartsWith("act_", userCall.GetProperty("userId").GetString(), StringComparison.Ordinal);
        Assert.False(userCall.TryGetProperty("anonymousId", out _));
        Assert.Equal(JsonValueKind.Array, userCall.GetProperty("properties").GetProperty("changes").ValueKind);
        Assert.Equal("maintenance", userCall.GetProperty("properties").GetProperty("details").GetProperty("reason").GetString());
        var tokenCall = calls.First(c => c.GetProperty("properties").GetProperty("actorType").GetString() == "token");
        Assert.StartsWith("token:act_", tokenCall.GetProperty("anonymousId").GetString(), StringComparison.Ordinal);
        Assert.False(tokenCall.TryGetProperty("userId", out _));
    }

    [Fact]
    public async Task Standalone_mode_polls_the_queue_by_itself_and_delivers()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:PollQueue"] = "true",
            ["AuditTrail:Forwarding:MaxPollingInterval"] = "00:00:00.200",
        });
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        put.Content = JsonContent.Create(new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(put, Ct)).StatusCode);
        var e = TestEvents.Event(ws);
        var post = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        post.Content = new StringContent(TestEvents.Array(e), Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(post, Ct)).StatusCode);

        // No test code polls here: the app's hosted forwarder must find the message itself.
        for (var i = 0; i < 150 && !receiver.DistinctByMessageId.ContainsKey((string)e["id"]!); i++)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Contains((string)e["id"]!, receiver.DistinctByMessageId.Keys);
        Assert.Empty(receiver.Violations);
    }

    [Fact]
    public async Task A_source_answering_500_three_times_then_200_gets_everything_once()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await DrainAsync(); // the settings change is an event too: delivered first, so the count below is the batch's alone
        var before = (receiver.Requests, receiver.AcceptedCalls.Count);
        var events = Enumerable.Range(0, 40).Select(_ => TestEvents.Event(ws)).ToList();
        await IngestAsync(ws, token, events);
        receiver.Script(500, 503, 500);

        await DrainAsync();

        Assert.Equal(4, receiver.Requests - before.Requests);
        Assert.Empty(receiver.Violations);
        Assert.Equal(events.Select(e => (string)e["id"]!).Order(), receiver.AcceptedCalls.Skip(before.Count).Select(c => c.GetProperty("messageId").GetString()!).Order());
    }

    [Fact]
    public async Task A_source_that_always_fails_leaves_the_message_poisoned_after_5_tries_and_replay_delivers_it()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await DrainAsync();
        var before = (receiver.Requests, receiver.AcceptedCalls.Count);
        var events = Enumerable.Range(0, 10).Select(_ => TestEvents.Event(ws)).ToList();
        receiver.DefaultStatus = 500;
        await IngestAsync(ws, token, events);

        await DrainAsync();

        Assert.Equal(5, receiver.Requests - before.Requests);
        Assert.Equal(before.Count, receiver.AcceptedCalls.Count);
        var outbox = _app.Services.GetRequiredService<ForwardingOutbox>();
        Assert.Contains((await outbox.PoisonQueue.PeekMessagesAsync(32, Ct)).Value, m => MessageWorkspace(m) == ws);
        Assert.Contains(_logs.Lines, l => l.Contains("moved to audit-forward-poison", StringComparison.Ordinal));

        receiver.DefaultStatus = 200;
        using var output = new StringWriter();
        Assert.Equal(0, await ForwardingCommand.RunAsync(_app.Services, ["forwarding", "replay-poison"], output, TextWriter.Null, Ct));
        Assert.Contains("Moved", output.ToString(), StringComparison.Ordinal);
        await DrainAsync();

        Assert.DoesNotContain((await outbox.PoisonQueue.PeekMessagesAsync(32, Ct)).Value, m => MessageWorkspace(m) == ws);
        Assert.Equal(events.Select(e => (string)e["id"]!).Order(), receiver.AcceptedCalls.Skip(before.Count).Select(c => c.GetProperty("messageId").GetString()!).Order());
    }

    [Fact]
    public async Task With_forwarding_off_nothing_is_queued_or_sent()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        // Never turned on: nothing is even queued.
        await PutSettingsAsync(ws, token, new { enabled = false, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await IngestAsync(ws, token, [TestEvents.Event(ws)]);
        var outbox = _app.Services.GetRequiredService<ForwardingOutbox>();
        await outbox.EnsureCreatedAsync(Ct);
        Assert.DoesNotContain((await outbox.Queue.PeekMessagesAsync(32, Ct)).Value, m => MessageWorkspace(m) == ws);

        // Turned on, events queued, then turned off before the forwarder runs: nothing is sent.
        await PutSettingsAsync(ws, token, new { enabled = true });
        await IngestAsync(ws, token, [TestEvents.Event(ws), TestEvents.Event(ws)]);
        Assert.Contains((await outbox.Queue.PeekMessagesAsync(32, Ct)).Value, m => MessageWorkspace(m) == ws);
        await PutSettingsAsync(ws, token, new { enabled = false });
        await DrainAsync();

        Assert.Equal(0, receiver.Requests);
        Assert.DoesNotContain((await outbox.Queue.PeekMessagesAsync(32, Ct)).Value, m => MessageWorkspace(m) == ws);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Transient_failures_are_stored_but_only_final_ones_are_forwarded_when_suppressed(bool suppress)
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString(), suppressTransientFailures = suppress });
        JsonObject Failure(string id, string type, JsonObject? properties)
        {
            var e = TestEvents.Event(ws, id: id, type: type, actorType: "system", actorId: "engage-scheduler", resourceType: "audience", resourceId: "aud_1");
            e["properties"] = properties;
            return e;
        }
        JsonObject[] events =
        [
            Failure("run-try-2", "Audience Run Failed", new JsonObject { ["attempt"] = 2, ["maxAttempts"] = 5 }),
            Failure("sync-not-final", "Computed Trait Destination Sync Failed", new JsonObject { ["final"] = false }),
            Failure("run-try-5", "Audience Run Failed", new JsonObject { ["attempt"] = 5, ["maxAttempts"] = 5 }),
            Failure("sync-final", "Audience Destination Sync Failed", new JsonObject { ["final"] = true, ["attempt"] = 1 }),
            Failure("run-unknown", "Computed Trait Run Failed", null),
            Failure("try-3-default-max", "Audience Run Failed", new JsonObject { ["attempt"] = 3 }),
            Failure("warehouse", "Warehouse Run Failed", new JsonObject { ["attempt"] = 1 }),
        ];
        await IngestAsync(ws, token, events);

        await DrainAsync();

        var forwarded = receiver.DistinctByMessageId.Keys.Where(k => !k.StartsWith(TrailRecordIds.Prefix, StringComparison.Ordinal)).Order().ToList();
        string[] expected = suppress
            ? ["run-try-5", "run-unknown", "sync-final", "warehouse"]
            : ["run-try-2", "run-try-5", "run-unknown", "sync-final", "sync-not-final", "try-3-default-max", "warehouse"];
        Assert.Equal(expected, forwarded);
        // Held back from the source, never from the trail.
        var stored = await GetJsonAsync($"/api/workspaces/{ws}/audit-events?actorId=engage-scheduler", token);
        Assert.Equal(7, stored.GetProperty("value").GetArrayLength());
    }

    [Fact]
    public async Task The_write_key_never_appears_in_a_response_a_log_line_an_error_or_a_dead_letter()
    {
        var (ws, token) = await NewWorkspaceAsync();
        var key = "wk_secret_" + Guid.NewGuid().ToString("N");
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(key + ":"));
        await using var receiver = await TrackingReceiver.StartAsync(key, Ct);
        // A hostile or careless source that echoes the credentials in its errors: the body is never read, the status line is cleaned.
        receiver.ErrorBody = r => $"bad request from {r.Headers.Authorization} key={key}";
        receiver.ReasonPhrase = r => $"Bad Request from {r.Headers.Authorization} key={key}";

        var put = await PutSettingsAsync(ws, token, new { enabled = true, writeKey = key, endpoint = receiver.Endpoint.ToString() });
        var get = await _http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/settings/audit-forwarding", token), Ct);
        var getBody = await get.Content.ReadAsStringAsync(Ct);
        Assert.True(JsonDocument.Parse(getBody).RootElement.GetProperty("writeKeySet").GetBoolean());
        Assert.Equal("…" + key[^4..], JsonDocument.Parse(getBody).RootElement.GetProperty("writeKeyHint").GetString());

        receiver.Script(503);          // transient: an exception and a warning
        receiver.DefaultStatus = 400;  // then final: a recorded refusal and a dead letter
        await IngestAsync(ws, token, [TestEvents.Event(ws)]);
        await DrainAsync();

        var afterFailure = await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token);
        Assert.Equal(400, afterFailure.GetProperty("lastFailure").GetProperty("status").GetInt32());
        var trail = await (await _http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/audit-events", token), Ct)).Content.ReadAsStringAsync(Ct);
        Assert.Contains("Audit Forwarding Settings Changed", trail, StringComparison.Ordinal);
        var deadLetters = new StringBuilder();
        var container = _app.Services.GetRequiredService<TrailTables>().DeadLetters;
        foreach (var name in await container.RecentBlobNamesAsync("forward-", Ct))
        {
            deadLetters.Append(await container.ReadTextAsync(name, Ct));
        }
        Assert.Contains(ws, deadLetters.ToString(), StringComparison.Ordinal);

        foreach (var text in new[] { await put.Content.ReadAsStringAsync(Ct), getBody, afterFailure.GetRawText(), trail, deadLetters.ToString(), string.Join('\n', _logs.Lines) })
        {
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
            Assert.DoesNotContain(basic, text, StringComparison.Ordinal);
        }
        Assert.Contains(_logs.Lines, l => l.Contains("[credentials]", StringComparison.Ordinal) || l.Contains("[write key]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"enabled":true}""", "write_key_required", "writeKey")]
    [InlineData("""{"enabled":"yes"}""", "invalid_field", "enabled")]
    [InlineData("""{"writeKey":"has space"}""", "invalid_write_key", "writeKey")]
    [InlineData("""{"endpoint":"ftp://example.com"}""", "invalid_endpoint", "endpoint")]
    [InlineData("""{"endpoint":"https://user:pass@example.com"}""", "invalid_endpoint", "endpoint")]
    [InlineData("""{"endpoint":"https://example.com/?x=1"}""", "invalid_endpoint", "endpoint")]
    [InlineData("""{"endpoint":"not a url"}""", "invalid_endpoint", "endpoint")]
    [InlineData("""{"color":"blue"}""", "unknown_field", "color")]
    [InlineData("""{"enabled":false,"enabled":true}""", "duplicate_field", "enabled")]
    [InlineData("""[]""", "not_an_object", null)]
    [InlineData("""{"enabled":""", "invalid_json", null)]
    public async Task Invalid_settings_answer_a_problem_naming_the_field(string body, string code, string? field)
    {
        var (ws, token) = await NewWorkspaceAsync();
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");

        var response = await _http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(field, problem.TryGetProperty("parameter", out var p) ? p.GetString() : null);
        var settings = await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token);
        Assert.False(settings.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Settings_not_sent_as_JSON_answer_415()
    {
        var (ws, token) = await NewWorkspaceAsync();
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = new StringContent("enabled=true", Encoding.UTF8, "application/x-www-form-urlencoded");

        var response = await _http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("unsupported_media_type", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Plain_http_endpoints_are_refused_unless_allowed()
    {
        await using var strict = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = strict.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await strict.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = JsonContent.Create(new { enabled = true, writeKey = "wk_1", endpoint = "http://169.254.169.254" });

        var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_endpoint", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_settings_change_is_an_audit_event_with_the_key_only_as_a_hint()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = "wk_abcdefghijklmnop", endpoint = "https://events.eu1.segmentapis.com/" });

        var page = await GetJsonAsync($"/api/workspaces/{ws}/audit-events?type=Audit%20Forwarding%20Settings%20Changed", token);

        var e = Assert.Single(page.GetProperty("value").EnumerateArray());
        Assert.True(AccessTokenService.TryParse(token, out var tokenId, out _));
        Assert.Equal(tokenId, e.GetProperty("actor").GetProperty("id").GetString());
        var changes = e.GetProperty("changes").EnumerateArray().ToDictionary(c => c.GetProperty("field").GetString()!, c => c.GetProperty("after").ToString());
        Assert.Equal("True", changes["enabled"], ignoreCase: true);
        Assert.Equal("https://events.eu1.segmentapis.com/", changes["endpoint"]);
        Assert.Equal("…mnop", changes["writeKey"]);
        Assert.DoesNotContain("abcdefghijklmnop", e.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_need_an_owner_token_of_that_workspace()
    {
        var (ws, _) = await NewWorkspaceAsync();
        var tokens = _app.Services.GetRequiredService<AccessTokenService>();
        var (_, ingestOnly) = await tokens.CreateAsync(ws, Roles.Ingest, null, "ingest", Ct);
        var (_, otherOwner) = await NewWorkspaceAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/settings/audit-forwarding", ingestOnly), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/settings/audit-forwarding", otherOwner), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.GetAsync(new Uri($"/api/workspaces/{ws}/settings/audit-forwarding", UriKind.Relative), Ct)).StatusCode);
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", ingestOnly);
        put.Content = JsonContent.Create(new { enabled = false });
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(put, Ct)).StatusCode);
    }

    [Fact]
    public async Task The_queue_function_follows_the_host_contract()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        var e = TestEvents.Event(ws);
        await IngestAsync(ws, token, [e]);
        await DrainAsync();
        var message = ForwardingOutbox.Pack(ws, [ReadBack(e)]).Single().ToJson();
        var neverStored = ForwardingOutbox.Pack(ws, [ReadBack(TestEvents.Event(ws))]).Single().ToJson();

        receiver.Script(500);
        var failed = await InvokeQueueFunctionAsync(message, dequeueCount: 1);
        var delivered = await InvokeQueueFunctionAsync(message, dequeueCount: 2);
        var missing = await InvokeQueueFunctionAsync(neverStored, dequeueCount: 1);
        var unreadable = await InvokeQueueFunctionAsync("not a forward message", dequeueCount: 1);

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        Assert.Contains("1 no longer stored", await LogOf(missing), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, unreadable.StatusCode);
        Assert.Contains("dead-lettered", await LogOf(unreadable), StringComparison.Ordinal);
        // Sent once by the queue and once more by hand, with one messageId: the source keeps one.
        Assert.Equal(2, receiver.AcceptedCalls.Count(c => c.GetProperty("messageId").GetString() == (string)e["id"]!));
        Assert.Single(receiver.DistinctByMessageId, kv => kv.Key == (string)e["id"]!);
        Assert.Empty(receiver.Violations);
    }

    private static async Task<string> LogOf(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("Logs")[0].GetString()!;

    private async Task<HttpResponseMessage> InvokeQueueFunctionAsync(string messageText, int dequeueCount)
    {
        // As the host sends it: the decoded message text, JSON-encoded once more as a string value.
        var payload = new JsonObject
        {
            ["Data"] = new JsonObject { ["message"] = JsonSerializer.Serialize(messageText) },
            ["Metadata"] = new JsonObject
            {
                ["DequeueCount"] = dequeueCount,
                ["Id"] = JsonSerializer.Serialize(Guid.NewGuid().ToString()),
                ["sys"] = new JsonObject { ["MethodName"] = ForwardingApi.QueueFunction },
            },
        };
        return await _http.PostAsync(new Uri("/" + ForwardingApi.QueueFunction, UriKind.Relative),
            new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"), Ct);
    }

    private static Core.Events.AuditEvent ReadBack(JsonObject e)
    {
        var read = Core.Ingestion.AuditEventReader.Read(Core.Ingestion.RawEvent.FromText(e.ToJsonString()), 0, null, DateTimeOffset.UtcNow);
        return read.Event!;
    }

    [Fact]
    public async Task Forwarded_calls_say_whether_the_event_came_from_a_producer_or_the_trail()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await IngestAsync(ws, token, [TestEvents.Event(ws, "evt_from_api")]);

        await DrainAsync();

        var ofWorkspace = receiver.DistinctByMessageId.Values.Where(c => c.GetProperty("properties").GetProperty("workspaceId").GetString() == ws).ToList();
        Assert.Equal(EventSources.Api, Assert.Single(ofWorkspace, c => c.GetProperty("messageId").GetString() == "evt_from_api").GetProperty("properties").GetProperty("source").GetString());
        var settings = Assert.Single(ofWorkspace, c => c.GetProperty("event").GetString() == "Audit Forwarding Settings Changed");
        Assert.Equal(EventSources.Trail, settings.GetProperty("properties").GetProperty("source").GetString());
    }

    private static string? MessageWorkspace(PeekedMessage m) =>
        ForwardingOutbox.DecodeBase64(m.Body.ToString()) is { } text ? ForwardMessage.TryParse(text, out _)?.WorkspaceId : null;

    /// <summary>Polls the forward queue until it has been empty twice in a row (bounded, so a bug fails rather than hangs).</summary>
    private async Task DrainAsync()
    {
        var forwarder = _app.Services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ForwardFunction>>();
        var empty = 0;
        for (var i = 0; i < 200 && empty < 2; i++)
        {
            empty = await forwarder.PollOnceAsync(Ct) == 0 ? empty + 1 : 0;
        }
        Assert.Equal(2, empty);
    }

    private async Task<(string Workspace, string Token)> NewWorkspaceAsync()
    {
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await _app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        return (ws, token);
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private async Task<HttpResponseMessage> PutSettingsAsync(string ws, string token, object settings)
    {
        var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        request.Content = JsonContent.Create(settings);
        var response = await _http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private async Task IngestAsync(string ws, string token, IEnumerable<JsonObject> events)
    {
        var request = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        request.Content = new StringContent(TestEvents.Array([.. events]), Encoding.UTF8, "application/json");
        var response = await _http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(0, result.GetProperty("rejectedCount").GetInt32());
    }

    private async Task<JsonElement> GetJsonAsync(string path, string token)
    {
        var response = await _http.SendAsync(Request(HttpMethod.Get, path, token), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
    }
}
