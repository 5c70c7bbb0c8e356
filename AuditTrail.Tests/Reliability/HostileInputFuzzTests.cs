using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Seeded fuzzing of every door a stranger can reach: the ingest body (per event and as a whole),
/// the Event Hubs invocation, query parameters and headers. Never a 500 or a crash; always a
/// problem-details answer or a per-event rejection that is dead-lettered with its reason; a valid
/// sibling of a hostile event is stored. The seed is printed; set AUDITTRAIL_FUZZ_SEED to vary it.
/// </summary>
public sealed class HostileInputFuzzTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Random Seeded(int salt)
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"fuzz seed {HostileInput.Seed} (set AUDITTRAIL_FUZZ_SEED to change it)");
        return new Random(HostileInput.Seed + salt);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, string context)
    {
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{context}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await StoredTrail.JsonAsync(response);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("code").GetString()), context);
        return problem;
    }

    [Fact]
    public async Task Hostile_events_in_an_ingest_batch_are_rejected_with_reasons_and_dead_lettered_while_valid_siblings_are_stored()
    {
        var random = Seeded(1);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var siblings = new List<string>();
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        for (var request = 0; request < 30; request++)
        {
            var parts = new List<string>();
            var what = new List<string>();
            for (var k = 0; k < 1 + random.Next(4); k++)
            {
                var (text, description) = HostileInput.MutatedEvent(random, ws, $"evt_fuzz_{request}_{k}");
                parts.Add(text);
                what.Add(description);
            }
            var sibling = $"evt_sibling_{request}";
            parts.Insert(random.Next(parts.Count + 1), TestEvents.Event(ws, sibling).ToJsonString());
            var context = $"seed {HostileInput.Seed}, request {request}: {string.Join("; ", what)}";

            var response = await http.PostAsync($"/api/workspaces/{ws}/audit-events",
                new StringContent("[" + string.Join(',', parts) + "]", Encoding.UTF8, "application/json"), Ct);

            if (response.StatusCode != HttpStatusCode.OK)
            {
                // Only the whole body can be refused: nesting past the parser's depth limit.
                var problem = await AssertProblemAsync(response, context);
                Assert.True(problem.GetProperty("code").GetString() == "invalid_json", context);
                continue;
            }
            var answer = await StoredTrail.JsonAsync(response);
            Assert.Equal(parts.Count, answer.GetProperty("received").GetInt32());
            Assert.Equal(parts.Count, answer.GetProperty("accepted").GetInt32() + answer.GetProperty("duplicates").GetInt32() + answer.GetProperty("rejectedCount").GetInt32());
            foreach (var r in answer.GetProperty("rejected").EnumerateArray())
            {
                Assert.False(string.IsNullOrEmpty(r.GetProperty("code").GetString()), context);
                Assert.False(string.IsNullOrEmpty(r.GetProperty("reason").GetString()), context);
                Assert.NotEqual(sibling, r.TryGetProperty("eventId", out var id) ? id.GetString() : null);
            }
            // Counted by workspace, as the dead letters are searched: a mutated workspaceId is kept under its own.
            rejected.UnionWith(answer.GetProperty("rejected").EnumerateArray().Where(r => r.TryGetProperty("workspaceId", out var w) && w.GetString() == ws).Select(Key));
            siblings.Add(sibling);
        }

        Assert.True(siblings.Count >= 20, $"seed {HostileInput.Seed}: only {siblings.Count} of 30 requests were readable; the fuzz barely reached the reader.");
        Assert.True(rejected.Count >= 20, $"seed {HostileInput.Seed}: only {rejected.Count} events were rejected; the mutations are too mild to test anything.");
        using var clients = azurite.CreateClients();
        var claimed = await StoredTrail.ClaimedIdsAsync(clients, ws);
        Assert.Superset(siblings.ToHashSet(), claimed.ToHashSet());
        // Dead letters are content-addressed: the same garbage sent twice is kept once, so compare distinct rejections.
        Assert.Equal(rejected.Order(StringComparer.Ordinal), (await DeadLetterLinesAsync(clients, ws, "http")).Select(Key).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Broken_event_hub_messages_are_dead_lettered_one_by_one_and_the_invocation_succeeds()
    {
        var random = Seeded(2);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        using var clients = azurite.CreateClients();
        var ws = TestEvents.NewWorkspaceId();
        var siblings = new List<string>();
        var rejected = 0;
        for (var invocation = 0; invocation < 20; invocation++)
        {
            var bodies = new List<string>();
            var what = new List<string>();
            for (var k = 0; k < 1 + random.Next(4); k++)
            {
                var (text, description) = random.Next(2) == 0
                    ? HostileInput.BrokenEventText(random, ws, $"evt_eh_{invocation}_{k}")
                    : HostileInput.MutatedEvent(random, ws, $"evt_eh_{invocation}_{k}");
                bodies.Add(text);
                what.Add(description);
            }
            var sibling = $"evt_eh_sibling_{invocation}";
            bodies.Insert(random.Next(bodies.Count + 1), TestEvents.Event(ws, sibling).ToJsonString());
            var context = $"seed {HostileInput.Seed}, invocation {invocation}: {string.Join("; ", what)}";

            var response = await http.PostAsync("/IngestAuditEvents", new StringContent(TestEvents.EventHubInvocation(bodies), Encoding.UTF8, "application/json"), Ct);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{context}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
            var answer = await StoredTrail.JsonAsync(response);
            var result = answer.GetProperty("ReturnValue");
            Assert.True(result.GetProperty("accepted").GetInt32() >= 1, context);
            Assert.Equal(result.GetProperty("received").GetInt32(),
                result.GetProperty("accepted").GetInt32() + result.GetProperty("duplicates").GetInt32() + result.GetProperty("rejectedCount").GetInt32());
            var count = result.GetProperty("rejectedCount").GetInt32();
            if (count > 0)
            {
                // The invocation's log line names its dead-letter blob: one line per rejection, each with its reason.
                var log = answer.GetProperty("Logs")[0].GetString()!;
                var blob = log[(log.IndexOf("audit-deadletter/", StringComparison.Ordinal) + "audit-deadletter/".Length)..].TrimEnd(')', '.');
                var lines = (await clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer).ReadTextAsync(blob, Ct))!
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                Assert.Equal(count, lines.Count);
                Assert.All(lines, l => Assert.False(string.IsNullOrEmpty(l.GetProperty("reason").GetString()), context));
                Assert.All(lines, l => Assert.True(l.TryGetProperty("raw", out _) || l.TryGetProperty("rawUtf16Base64", out _), context));
            }
            rejected += count;
            siblings.Add(sibling);
        }

        Assert.Superset(siblings.ToHashSet(), (await StoredTrail.ClaimedIdsAsync(clients, ws)).ToHashSet());
        Assert.True(rejected >= 15, $"seed {HostileInput.Seed}: only {rejected} events were rejected; the mutations are too mild to test anything.");
    }

    [Fact]
    public async Task Broken_request_bodies_and_invocation_payloads_get_a_problem_or_a_dead_letter_never_a_500()
    {
        var random = Seeded(3);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var valid = TestEvents.Array(TestEvents.Event(ws), TestEvents.Event(ws));
        for (var i = 0; i < 30; i++)
        {
            var (body, what) = HostileInput.BrokenBody(random, valid);
            var context = $"seed {HostileInput.Seed}, body {i}: {what}";
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

            var response = await http.PostAsync($"/api/workspaces/{ws}/audit-events", content, Ct);

            if (response.StatusCode != HttpStatusCode.OK)
            {
                await AssertProblemAsync(response, context);
            }
            using var invocation = new ByteArrayContent(body);
            invocation.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            var invoked = await http.PostAsync("/IngestAuditEvents", invocation, Ct);
            // The host's payload is never refused for its content: unreadable ones are dead-lettered whole.
            Assert.True(invoked.StatusCode == HttpStatusCode.OK, $"{context} (invocation): {(int)invoked.StatusCode} {await invoked.Content.ReadAsStringAsync(Ct)}");
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/", Ct)).StatusCode);
    }

    [Theory]
    [InlineData("[{\"id\":\"evt_\xFF\"}]")]
    [InlineData("[{\"id\xC3\x28\":1}]")]
    public async Task Invalid_UTF8_in_a_JSON_body_is_a_400_problem_on_every_body_taking_route(string latin1Body)
    {
        // The found case: the parser accepts bad bytes until a string is read, which used to be a 500.
        var body = System.Text.Encoding.Latin1.GetBytes(latin1Body);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws, Core.Access.Roles.Owner);
        foreach (var (method, path) in new[] { (HttpMethod.Post, $"/api/workspaces/{ws}/audit-events"), (HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding") })
        {
            using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

            var response = await http.SendAsync(request, Ct);

            var problem = await AssertProblemAsync(response, path);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_json", problem.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Hostile_query_parameters_get_a_problem_naming_the_parameter_never_a_500()
    {
        var random = Seeded(4);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        string[] names = ["start", "end", "type", "productArea", "actorId", "actorType", "resourceType", "resourceId", "limit", "continuation", "unknown", "LIMIT", ""];
        string[] values =
        [
            "", "%00", "%zz", "-1", "0", "1001", "99999999999999999999", "1e3", "2026-02-30T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59Z",
            Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O")), Uri.EscapeDataString("' or 1 eq 1 or PartitionKey ne '"), "%E2%80%AE", "%ED%A0%80",
            new string('a', 5000), "eyJkYXkiOiIyMDI2MTEyMyJ9.AAAA", "a.b.c", "user,token,system,nobody", "Source%20Disabled," + string.Join(',', Enumerable.Repeat("x", 30)),
        ];
        for (var i = 0; i < 50; i++)
        {
            var query = string.Join('&', Enumerable.Range(0, 1 + random.Next(4)).Select(_ => names[random.Next(names.Length)] + "=" + values[random.Next(values.Length)]));
            var context = $"seed {HostileInput.Seed}, query {i}: ?{(query.Length > 200 ? query[..200] + "…" : query)}";

            var response = await http.GetAsync($"/api/workspaces/{ws}/audit-events?{query}", Ct);

            if (response.StatusCode != HttpStatusCode.OK)
            {
                var problem = await AssertProblemAsync(response, context);
                Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
                // Named even when its name is empty ("?=x" is refused as unknown parameter '').
                Assert.True(problem.TryGetProperty("parameter", out var parameter) && parameter.ValueKind == System.Text.Json.JsonValueKind.String, context + ": " + problem);
            }
        }
    }

    [Fact]
    public async Task Hostile_headers_get_a_problem_never_a_500()
    {
        var random = Seeded(5);
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var token = (await StoredTrail.IngestClientAsync(app, ws)).DefaultRequestHeaders.Authorization!.Parameter!;
        string?[] authorizations =
        [
            null, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + token + "x", "Bearer " + token[..^1], "bearer " + token, "Bearer " + new string('A', 16_000),
            "Bearer atk_" + new string('0', 16) + "_" + new string('A', 43), "Bearer atk_../../etc_passwd", "Bearer " + token + ", Bearer " + token, "Bearer " + token,
        ];
        string?[] contentTypes = [null, "application/json", "application/json; charset=utf-16", "application/jsonx", "text/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*"];
        for (var i = 0; i < 30; i++)
        {
            var authorization = authorizations[random.Next(authorizations.Length)];
            var contentType = contentTypes[random.Next(contentTypes.Length)];
            var context = $"seed {HostileInput.Seed}, headers {i}: Authorization '{authorization?[..Math.Min(authorization.Length, 40)]}', Content-Type '{contentType}'";
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events")
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(TestEvents.Array(TestEvents.Event(ws)))),
            };
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            var response = await http.SendAsync(request, Ct);

            if (response.StatusCode != HttpStatusCode.OK)
            {
                await AssertProblemAsync(response, context);
            }
        }
    }

    private static string Key(JsonElement rejection) => string.Join('|',
        rejection.GetProperty("index").GetInt32(), rejection.GetProperty("code").GetString(), rejection.GetProperty("reason").GetString(),
        rejection.TryGetProperty("eventId", out var id) ? id.GetString() : null);

    /// <summary>Today's and yesterday's dead-letter lines of one door for a workspace.</summary>
    private static async Task<List<JsonElement>> DeadLetterLinesAsync(AuditTrail.TestSupport.RegisteredStorage clients, string workspaceId, string door)
    {
        var container = clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        var lines = new List<JsonElement>();
        foreach (var name in await container.RecentBlobNamesAsync(door + "-", Ct))
        {
            foreach (var line in (await container.ReadTextAsync(name, Ct))!.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("workspaceId", out var w) && w.GetString() == workspaceId)
                {
                    lines.Add(doc.RootElement.Clone());
                }
            }
        }
        return lines;
    }
}
