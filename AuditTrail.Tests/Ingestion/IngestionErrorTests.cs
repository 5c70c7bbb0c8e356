using System.Net;
using System.Text;
using System.Text.Json;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Ingestion;

/// <summary>Malformed requests and storage outages: each gets a specific problem-details answer, never a bare 500.</summary>
public sealed class IngestionErrorTests(AzuriteFixture azurite) : IngestionTestBase(azurite)
{
    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await JsonAsync(response);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.True(problem.TryGetProperty("traceId", out _));
        return problem;
    }

    [Theory]
    [InlineData("{not json", "invalid_json")]
    [InlineData("", "invalid_json")]
    [InlineData("{\"id\":\"single event, not an array\"}", "not_an_array")]
    [InlineData("\"text\"", "not_an_array")]
    public async Task Malformed_body_is_a_400_problem_with_a_specific_code(string body, string code)
    {
        await AssertProblemAsync(await PostEventsAsync(TestEvents.NewWorkspaceId(), body), HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Too_many_events_is_a_413_problem()
    {
        var ws = TestEvents.NewWorkspaceId();
        var body = "[" + string.Join(',', Enumerable.Repeat("{}", 1001)) + "]";

        await AssertProblemAsync(await PostEventsAsync(ws, body), HttpStatusCode.RequestEntityTooLarge, "too_many_events");
    }

    [Fact]
    public async Task Body_over_4_MiB_is_a_413_problem()
    {
        var ws = TestEvents.NewWorkspaceId();
        var body = "[" + new string(' ', 4 * 1024 * 1024) + "]";

        await AssertProblemAsync(await PostEventsAsync(ws, body), HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Fact]
    public async Task Wrong_content_type_is_a_415_problem()
    {
        var response = await PostEventsAsync(TestEvents.NewWorkspaceId(), "[]", "text/plain");

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Theory]
    [InlineData("ws.1")]
    [InlineData("ws%2F1")]
    [InlineData("ws%27%20or%20%271")]
    [InlineData("ws_a%0A")] // a trailing newline: $ would have let it through
    [InlineData("wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww")]
    public async Task Malformed_workspace_in_the_path_is_a_400_naming_the_parameter(string workspaceSegment)
    {
        var response = await Http.PostAsync($"/api/workspaces/{workspaceSegment}/audit-events", new StringContent("[]", Encoding.UTF8, "application/json"), Ct);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid_workspace_id");
        Assert.Equal("workspaceId", problem.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task Unknown_route_is_a_404_problem()
    {
        await AssertProblemAsync(await Http.GetAsync("/api/nothing-here", Ct), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Empty_array_is_accepted_as_nothing_to_do()
    {
        var response = await PostEventsAsync(TestEvents.NewWorkspaceId(), "[]");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, (await JsonAsync(response)).GetProperty("received").GetInt32());
    }

    [Theory]
    [InlineData("this is not json")]
    [InlineData("{\"Metadata\":{}}")]
    [InlineData("{\"Data\":{\"a\":1,\"b\":2}}")]
    [InlineData("[1,2,3]")]
    public async Task Unreadable_invocation_payload_is_dead_lettered_whole_and_acknowledged(string payload)
    {
        var response = await InvokeEventHubAsync(payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Contains("audit-deadletter/", body.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
    }

    public static TheoryData<string> InvocationShapes()
    {
        var data = new TheoryData<string>();
        const string Placeholder = "__WS__";
        var e1 = TestEvents.Event(Placeholder, "evt_s1").ToJsonString();
        var e2 = TestEvents.Event(Placeholder, "evt_s2").ToJsonString();
        // string[] as JSON text (the host's array rule), a real JSON array of strings, of objects,
        // each body JSON-encoded twice, and cardinality one (a single string).
        data.Add(Invocation("events", JsonSerializer.Serialize(JsonSerializer.Serialize(new[] { e1, e2 }))));
        data.Add(Invocation("events", JsonSerializer.Serialize(new[] { e1, e2 })));
        data.Add(Invocation("events", "[" + e1 + "," + e2 + "]"));
        data.Add(Invocation("events", JsonSerializer.Serialize(new[] { JsonSerializer.Serialize(e1), JsonSerializer.Serialize(e2) })));
        // Another binding name, lower-case keys, and one message body holding an array of events.
        data.Add("{\"data\":{\"eventHubMessages\":" + JsonSerializer.Serialize(JsonSerializer.Serialize(new[] { "[" + e1 + "," + e2 + "]" })) + "}}");
        return data;
    }

    private static string Invocation(string binding, string valueJson) => "{\"Data\":{\"" + binding + "\":" + valueJson + "}}";

    [Theory]
    [MemberData(nameof(InvocationShapes))]
    public async Task Every_shape_the_host_may_send_a_batch_in_is_read(string template)
    {
        var ws = TestEvents.NewWorkspaceId();

        var response = await InvokeEventHubAsync(template.Replace("__WS__", ws, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = (await JsonAsync(response)).GetProperty("ReturnValue");
        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
    }

    [Fact]
    public async Task Single_event_with_cardinality_one_is_read()
    {
        var ws = TestEvents.NewWorkspaceId();
        var payload = Invocation("events", JsonSerializer.Serialize(JsonSerializer.Serialize(TestEvents.Event(ws).ToJsonString())));

        var result = (await JsonAsync(await InvokeEventHubAsync(payload))).GetProperty("ReturnValue");

        Assert.Equal(1, result.GetProperty("accepted").GetInt32());
    }

    [Fact]
    public async Task Storage_outage_is_a_503_with_retry_after_over_http_and_a_failed_invocation_for_the_host()
    {
        // Nothing listens on port 9 (discard) on loopback: every storage call fails to connect.
        const string Down = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                            + "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;";
        await using var app = new AuditTrailAppFactory(Down, storageRetries: 1);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events")
        {
            Content = new StringContent(TestEvents.Array(TestEvents.Event(ws)), Encoding.UTF8, "application/json"),
        };
        // A well-formed token: checking it is the first thing that needs storage.
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "atk_0123456789abcdef_" + new string('A', 43));
        var viaHttp = await http.SendAsync(request, Ct);
        var viaHost = await http.PostAsync("/IngestAuditEvents", new StringContent(TestEvents.EventHubInvocation([TestEvents.Event(ws).ToJsonString()]), Encoding.UTF8, "application/json"), Ct);

        var problem = await AssertProblemAsync(viaHttp, HttpStatusCode.ServiceUnavailable, "storage_unavailable");
        Assert.Equal(TimeSpan.FromSeconds(5), viaHttp.Headers.RetryAfter?.Delta);
        Assert.False(viaHost.IsSuccessStatusCode, "A failed store must fail the invocation, so the host retries before checkpointing.");
        Assert.DoesNotContain("AccountKey", problem.ToString(), StringComparison.Ordinal);
    }
}
