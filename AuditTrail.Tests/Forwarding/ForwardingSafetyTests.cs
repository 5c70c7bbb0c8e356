using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuditTrail.Tests.Forwarding;

/// <summary>
/// Audit data goes only where it was sent: no redirects, no internal addresses (at save and at
/// connect), batch bodies under the API's limit, refused forwards resent once fixed, and one slow
/// source not holding up another workspace. Part of <see cref="ForwardingTests"/>: they share the queue.
/// </summary>
public sealed partial class ForwardingTests
{
    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task A_redirecting_source_is_recorded_as_a_failure_and_its_Location_gets_nothing(int status)
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var elsewhere = await TrackingReceiver.StartAsync(receiver.WriteKey, Ct);
        receiver.DefaultStatus = status;
        receiver.RedirectTo = new Uri(elsewhere.Endpoint, "/v1/batch");
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        var events = Enumerable.Range(0, 3).Select(_ => TestEvents.Event(ws)).ToList();
        await IngestAsync(ws, token, events);

        await DrainAsync();

        Assert.Equal(0, elsewhere.Requests);
        Assert.Empty(receiver.AcceptedCalls);
        var failure = (await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token)).GetProperty("lastFailure");
        Assert.Equal(status, failure.GetProperty("status").GetInt32());
        Assert.StartsWith($"{status} ", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("redirects are not followed", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(ws, await ForwardDeadLettersOfTodayAsync(_app), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endpoints_on_internal_addresses_are_refused_when_saved() =>
        await AssertRefusedWhenSavedAsync(
        [
            "https://127.0.0.1", "https://127.9.9.9:8443", "https://10.1.2.3", "https://172.16.0.1", "https://192.168.1.1", "https://100.64.0.1",
            "https://169.254.169.254", "https://0.0.0.0", "https://[::1]", "https://[::]", "https://[fe80::1]", "https://[fd00::1]", "https://[fc12:3456::1]",
            "https://[::ffff:127.0.0.1]", "https://[::ffff:169.254.169.254]", "https://[::ffff:10.0.0.1]", "https://[64:ff9b::a9fe:a9fe]",
            "https://2130706433", "https://localhost", "https://localhost:7071/",
        ]);

    /// <summary>Each endpoint, saved with a key by the workspace's owner on an app with the guard on, is a 400 <c>endpoint_not_public</c> naming it, and forwarding stays off.</summary>
    private async Task AssertRefusedWhenSavedAsync(string[] refused)
    {
        await using var strict = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = strict.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await strict.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        foreach (var endpoint in refused)
        {
            var request = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
            request.Content = JsonContent.Create(new { enabled = true, writeKey = "wk_1", endpoint });
            var response = await http.SendAsync(request, Ct);

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{endpoint} answered {response.StatusCode}");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
            Assert.True(problem.GetProperty("code").GetString() == "endpoint_not_public", $"{endpoint}: {problem}");
            Assert.Equal("endpoint", problem.GetProperty("parameter").GetString());
        }
        var settings = await (await http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/settings/audit-forwarding", token), Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.False(settings.GetProperty("enabled").GetBoolean());
    }

    [Theory]
    [InlineData("8.8.8.8", null)]
    [InlineData("1.1.1.1", null)]
    [InlineData("2606:4700:4700::1111", null)]
    [InlineData("100.63.255.255", null)]
    [InlineData("100.128.0.1", null)]
    [InlineData("172.32.0.1", null)]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("10.255.255.255", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.0.1", "private")]
    [InlineData("100.64.0.1", "shared (carrier-grade NAT)")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("255.255.255.255", "reserved")]
    [InlineData("::", "unspecified")]
    [InlineData("::1", "loopback")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fd00::1", "unique-local")]
    [InlineData("fc00::1", "unique-local")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:192.168.1.1", "private")]
    [InlineData("2a00:1450:4001:82b::200e", null)]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::169.254.169.254", "link-local")]
    public void Addresses_are_classified_as_public_or_by_their_internal_kind(string address, string? kind)
    {
        Assert.Equal(kind, ForwardingAddressGuard.NonPublicKind(IPAddress.Parse(address)));
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_at_connect_time_is_refused_and_recorded_without_connecting()
    {
        // DNS rebinding: the name is public when the owner saves it, loopback when the forwarder connects.
        var dns = new PlayedDns();
        dns.Answers["rebind.example"] = [IPAddress.Parse("8.8.8.8")];
        await using var strict = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Forwarding:RetryDelay"] = "00:00:00",
            ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
        }, services: s => s.Replace(ServiceDescriptor.Singleton<IForwardingHostResolver>(dns)));
        using var http = strict.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await strict.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        put.Content = JsonContent.Create(new { enabled = true, writeKey = "wk_" + Guid.NewGuid().ToString("N"), endpoint = $"https://rebind.example:{port}" });
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(put, Ct)).StatusCode);
        dns.Answers["rebind.example"] = [IPAddress.Parse("8.8.8.8"), IPAddress.Loopback];
        var post = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        post.Content = new StringContent(TestEvents.Array(TestEvents.Event(ws)), Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(post, Ct)).StatusCode);

        await DrainAsync(strict);

        Assert.False(listener.Pending(), "a connection reached the loopback port");
        var settings = await (await http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/settings/audit-forwarding", token), Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        var failure = settings.GetProperty("lastFailure");
        Assert.Equal(0, failure.GetProperty("status").GetInt32());
        Assert.Contains("loopback", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(ws, await ForwardDeadLettersOfTodayAsync(strict), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_batch_body_sent_is_under_500000_bytes_and_no_event_is_lost()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await DrainAsync();
        var before = receiver.BodySizes.Count;
        // 16 calls of 31,400 bytes make a body just over 500,000 bytes and under 500 KiB.
        var events = Enumerable.Range(0, 40).Select(_ => EventWithCallOf(ws, 31_400))
            .Concat(Enumerable.Range(0, 6).Select(i => EventWithCallOf(ws, 31_900 + (i * 100)))).ToList();
        await IngestAsync(ws, token, events.Take(23));
        await IngestAsync(ws, token, events.Skip(23));

        await DrainAsync();

        Assert.Empty(receiver.Violations);
        var sizes = receiver.BodySizes.Skip(before).ToList();
        Assert.True(sizes.Count >= 4, $"{sizes.Count} bodies");
        Assert.All(sizes, s => Assert.True(s < 500_000, $"a body of {s} bytes"));
        Assert.Contains(sizes, s => s > 450_000);
        Assert.Equal(events.Select(e => (string)e["id"]!).Order(), receiver.DistinctByMessageId.Keys.Where(k => k.StartsWith("evt_", StringComparison.Ordinal)).Order());
    }

    [Fact]
    public async Task Only_the_status_line_of_a_failing_answer_is_kept_never_its_body()
    {
        var (ws, token) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        receiver.ErrorBody = _ => "BODY-MARKER " + new string('b', 5000);
        receiver.ReasonPhrase = _ => "Bad Request " + new string('r', 400);
        receiver.Script(503);
        receiver.DefaultStatus = 400;
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        await IngestAsync(ws, token, [TestEvents.Event(ws)]);

        await DrainAsync();

        var failure = (await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token)).GetProperty("lastFailure");
        var reason = failure.GetProperty("reason").GetString()!;
        Assert.StartsWith("400 Bad Request rrr", reason, StringComparison.Ordinal);
        Assert.True(reason.Length <= EventForwarder.MaxReasonChars + 1, $"reason of {reason.Length} characters");
        foreach (var text in new[] { reason, await ForwardDeadLettersOfTodayAsync(_app), string.Join('\n', _logs.Lines) })
        {
            Assert.DoesNotContain("BODY-MARKER", text, StringComparison.Ordinal);
        }
        Assert.Contains(_logs.Lines, l => l.Contains("answered 503", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_refused_forward_is_resent_with_its_original_message_ids_once_the_key_is_fixed_and_only_for_its_workspace()
    {
        var (ws, token) = await NewWorkspaceAsync();
        var (other, otherToken) = await NewWorkspaceAsync();
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var otherReceiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = "wk_wrong_" + Guid.NewGuid().ToString("N"), endpoint = receiver.Endpoint.ToString() });
        await PutSettingsAsync(other, otherToken, new { enabled = true, writeKey = "wk_wrong_" + Guid.NewGuid().ToString("N"), endpoint = otherReceiver.Endpoint.ToString() });
        var events = Enumerable.Range(0, 5).Select(_ => TestEvents.Event(ws)).ToList();
        var otherEvents = Enumerable.Range(0, 3).Select(_ => TestEvents.Event(other)).ToList();
        await IngestAsync(ws, token, events);
        await IngestAsync(other, otherToken, otherEvents);
        await DrainAsync();
        Assert.Equal(401, (await GetJsonAsync($"/api/workspaces/{ws}/settings/audit-forwarding", token)).GetProperty("lastFailure").GetProperty("status").GetInt32());
        Assert.True(receiver.Unauthorized > 0);
        Assert.Empty(receiver.AcceptedCalls);

        // Another workspace's owner cannot reach them, and nothing is resent while the key is still wrong... or while off.
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", otherToken), Ct)).StatusCode);
        await PutSettingsAsync(ws, token, new { enabled = false });
        var whileOff = await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", token), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, whileOff.StatusCode);
        Assert.Equal("forwarding_off", (await whileOff.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());

        await PutSettingsAsync(ws, token, new { enabled = true, writeKey = receiver.WriteKey });
        var resend = await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", token), Ct);
        Assert.Equal(HttpStatusCode.Accepted, resend.StatusCode);
        var result = await resend.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.True(result.GetProperty("messages").GetInt32() >= 1);
        Assert.True(result.GetProperty("events").GetInt32() >= events.Count);
        Assert.False(result.GetProperty("more").GetBoolean());
        await DrainAsync();

        var ids = events.Select(e => (string)e["id"]!).ToHashSet();
        Assert.Subset(receiver.DistinctByMessageId.Keys.ToHashSet(), ids);
        Assert.Empty(receiver.Violations);
        Assert.Empty(otherReceiver.AcceptedCalls);
        var again = await (await _http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/settings/audit-forwarding/resend", token), Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(0, again.GetProperty("messages").GetInt32());
        var resent = await GetJsonAsync($"/api/workspaces/{ws}/audit-events?type=Audit%20Forwarding%20Dead%20Letters%20Resent", token);
        var record = Assert.Single(resent.GetProperty("value").EnumerateArray());
        Assert.True(AccessTokenService.TryParse(token, out var tokenId, out _));
        Assert.Equal(tokenId, record.GetProperty("actor").GetProperty("id").GetString());

        // The other workspace's dead letters were left alone; its operator resends them from the command line.
        await PutSettingsAsync(other, otherToken, new { writeKey = otherReceiver.WriteKey });
        using var output = new StringWriter();
        Assert.Equal(0, await ForwardingCommand.RunAsync(_app.Services, ["forwarding", "resend-dead-letters", "--workspace", other], output, TextWriter.Null, Ct));
        Assert.Contains("Queued", output.ToString(), StringComparison.Ordinal);
        await DrainAsync();

        Assert.Subset(otherReceiver.DistinctByMessageId.Keys.ToHashSet(), otherEvents.Select(e => (string)e["id"]!).ToHashSet());
        Assert.DoesNotContain(receiver.AcceptedCalls, c => c.GetProperty("properties").GetProperty("workspaceId").GetString() == other);
        Assert.DoesNotContain(otherReceiver.AcceptedCalls, c => c.GetProperty("properties").GetProperty("workspaceId").GetString() == ws);
    }

    [Fact]
    public async Task In_standalone_mode_a_slow_source_does_not_hold_up_another_workspaces_forwarding()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:PollQueue"] = "true",
            ["AuditTrail:Forwarding:MaxPollingInterval"] = "00:00:00.200",
            // Longer than the waits below: the held try must not end by timing out.
            ["AuditTrail:Forwarding:RequestTimeout"] = "00:05:00",
        });
        using var http = app.CreateClient();
        var tokens = app.Services.GetRequiredService<AccessTokenService>();
        var slowWs = TestEvents.NewWorkspaceId();
        var fastWs = TestEvents.NewWorkspaceId();
        var (_, slowToken) = await tokens.CreateAsync(slowWs, Roles.Owner, null, "test", Ct);
        var (_, fastToken) = await tokens.CreateAsync(fastWs, Roles.Owner, null, "test", Ct);
        await using var slow = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await using var fast = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        slow.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task SendAsync(HttpMethod method, string path, string token, HttpContent content)
        {
            var request = Request(method, path, token);
            request.Content = content;
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request, Ct)).StatusCode);
        }
        var slowEvent = TestEvents.Event(slowWs);
        var fastEvent = TestEvents.Event(fastWs);
        try
        {
            await SendAsync(HttpMethod.Put, $"/api/workspaces/{slowWs}/settings/audit-forwarding", slowToken,
                JsonContent.Create(new { enabled = true, writeKey = slow.WriteKey, endpoint = slow.Endpoint.ToString() }));
            await SendAsync(HttpMethod.Post, $"/api/workspaces/{slowWs}/audit-events", slowToken, new StringContent(TestEvents.Array(slowEvent), Encoding.UTF8, "application/json"));
            await WaitUntilAsync(() => slow.Requests > 0, "the slow source to be holding a try");

            await SendAsync(HttpMethod.Put, $"/api/workspaces/{fastWs}/settings/audit-forwarding", fastToken,
                JsonContent.Create(new { enabled = true, writeKey = fast.WriteKey, endpoint = fast.Endpoint.ToString() }));
            await SendAsync(HttpMethod.Post, $"/api/workspaces/{fastWs}/audit-events", fastToken, new StringContent(TestEvents.Array(fastEvent), Encoding.UTF8, "application/json"));

            // Delivered while the other source still holds its answer.
            await WaitUntilAsync(() => fast.DistinctByMessageId.ContainsKey((string)fastEvent["id"]!), "the fast source to get its event");
            Assert.Empty(slow.AcceptedCalls);
        }
        finally
        {
            slow.Hold.TrySetResult();
        }
        await WaitUntilAsync(() => slow.DistinctByMessageId.ContainsKey((string)slowEvent["id"]!), "the slow source to get its event once it answers");
        Assert.Empty(slow.Violations);
        Assert.Empty(fast.Violations);
    }

    /// <summary>An event whose track call is exactly <paramref name="callBytes"/> long: the padding is ASCII, a byte a character.</summary>
    private static JsonObject EventWithCallOf(string ws, int callBytes)
    {
        var e = TestEvents.Event(ws);
        e["changes"] = new JsonArray(new JsonObject { ["field"] = "note", ["before"] = new string('c', 15_000), ["after"] = false });
        e["properties"] = new JsonObject { ["pad"] = string.Empty };
        var bare = TrackCalls.Serialize(ReadBack(e)).Length;
        e["properties"] = new JsonObject { ["pad"] = new string('p', callBytes - bare) };
        Assert.Equal(callBytes, TrackCalls.Serialize(ReadBack(e)).Length);
        return e;
    }

    private static async Task<string> ForwardDeadLettersOfTodayAsync(AuditTrailAppFactory app)
    {
        var all = new StringBuilder();
        var container = app.Services.GetRequiredService<TrailTables>().DeadLetters;
        foreach (var name in await container.RecentBlobNamesAsync("forward-", Ct))
        {
            all.Append(await container.ReadTextAsync(name, Ct));
        }
        return all.ToString();
    }

    /// <summary>Polls an app's forward queue until it has been empty twice in a row (bounded, so a bug fails rather than hangs).</summary>
    private static async Task DrainAsync(AuditTrailAppFactory app)
    {
        var forwarder = app.Services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ForwardFunction>>();
        var empty = 0;
        for (var i = 0; i < 200 && empty < 2; i++)
        {
            empty = await forwarder.PollOnceAsync(Ct) == 0 ? empty + 1 : 0;
        }
        Assert.Equal(2, empty);
    }

    /// <summary>A bound on waiting for something the app does by itself, not a measure of how fast it does it.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300 && !condition(); i++)
        {
            await Task.Delay(100, Ct);
        }
        Assert.True(condition(), $"Gave up waiting for {what}.");
    }

    /// <summary>DNS as the test plays it: names answer what the test says, nothing else resolves.</summary>
    private sealed class PlayedDns : IForwardingHostResolver
    {
        public ConcurrentDictionary<string, IPAddress[]> Answers { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Every name looked up, in order.</summary>
        public ConcurrentQueue<string> Asked { get; } = new();

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Asked.Enqueue(host);
            return Answers.TryGetValue(host, out var answer)
                ? Task.FromResult(answer)
                : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
        }
    }
}
