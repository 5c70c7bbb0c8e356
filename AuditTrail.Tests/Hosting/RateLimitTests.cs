using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Functions.Hosting;
using AuditTrail.Tests.Deployment;
using AuditTrail.Tests.Export;
using AuditTrail.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AuditTrail.Tests.Hosting;

/// <summary>
/// The rate limits against the real app on Azurite. Every limit under test is a tiny bucket that
/// gains one token a day, so a burst is refused deterministically and nothing depends on timing.
/// </summary>
public sealed class RateLimitTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Tiny buckets refilled once a day: a burst over them is refused whatever the test's pace.</summary>
    internal static Dictionary<string, string> Limits(params (string Name, int Value)[] limits)
    {
        var settings = new Dictionary<string, string> { [RateLimitOptions.Section + ":ReplenishmentPeriod"] = "1.00:00:00" };
        foreach (var (name, value) in limits)
        {
            settings[$"{RateLimitOptions.Section}:{name}Burst"] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"{RateLimitOptions.Section}:{name}Rate"] = "1";
        }
        return settings;
    }

    internal static async Task<string> TokenAsync(AuditTrailAppFactory app, string workspaceId, string role = Roles.Owner) =>
        (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(workspaceId, role, null, "rate limits", Ct)).Token;

    internal static Task<HttpResponseMessage> GetAsync(HttpClient http, string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http.SendAsync(request, Ct);
    }

    /// <summary>A client whose requests arrive from <paramref name="remote"/>, as Kestrel would report the connection.</summary>
    private static HttpClient ClientFrom(AuditTrailAppFactory app, string remote)
    {
        _ = app.Services; // starts the server
        return new HttpClient(app.Server.CreateHandler(c => c.Connection.RemoteIpAddress = IPAddress.Parse(remote))) { BaseAddress = app.Server.BaseAddress };
    }

    /// <summary>The answer is 429 rate_limited as an RFC 7807 problem, with a Retry-After of at least a second.</summary>
    internal static async Task AssertRateLimitedAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("detail").GetString()));
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After: {response.Headers.RetryAfter}");
    }

    private static string List(string workspaceId, string query = "") => $"/api/workspaces/{workspaceId}/audit-events{query}";

    [Fact]
    public async Task A_burst_from_one_workspace_is_answered_429_rate_limited_with_Retry_After_while_another_workspace_is_served()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("PerWorkspace", 3)));
        using var http = app.CreateClient();
        var (busy, quiet) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        var busyOwner = await TokenAsync(app, busy);
        var busyOtherToken = await TokenAsync(app, busy);
        var quietOwner = await TokenAsync(app, quiet);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(busy), busyOwner)).StatusCode);
        }
        await AssertRateLimitedAsync(await GetAsync(http, List(busy), busyOwner));
        // The workspace's bucket is shared by its tokens: a second token does not escape it.
        await AssertRateLimitedAsync(await GetAsync(http, List(busy), busyOtherToken));
        // Ingest is counted too (a producer's client retries a 429 after Retry-After, as a 503).
        await AssertRateLimitedAsync(await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, List(busy))
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", busyOwner) },
            Content = new StringContent(TestEvents.Array(TestEvents.Event(busy)), Encoding.UTF8, "application/json"),
        }, Ct));

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(quiet), quietOwner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(quiet), quietOwner)).StatusCode);
    }

    [Fact]
    public async Task An_ingest_token_over_its_limit_is_refused_while_another_token_of_the_same_workspace_is_served()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("PerToken", 2)));
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (producer, owner) = (await TokenAsync(app, ws, Roles.Ingest), await TokenAsync(app, ws));
        Task<HttpResponseMessage> Ingest(string id) => http.SendAsync(new HttpRequestMessage(HttpMethod.Post, List(ws))
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", producer) },
            Content = new StringContent(TestEvents.Array(TestEvents.Event(ws, id)), Encoding.UTF8, "application/json"),
        }, Ct);

        Assert.Equal(HttpStatusCode.OK, (await Ingest("evt_1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Ingest("evt_2")).StatusCode);
        await AssertRateLimitedAsync(await Ingest("evt_3"));

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(ws), owner)).StatusCode);
    }

    [Fact]
    public async Task Requests_without_a_workspace_s_own_token_do_not_spend_its_buckets()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("PerWorkspace", 2), ("Costly", 1)));
        using var http = app.CreateClient();
        var (victim, stranger) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        var victimOwner = await TokenAsync(app, victim);
        var victimIngest = await TokenAsync(app, victim, Roles.Ingest);
        var strangerOwner = await TokenAsync(app, stranger);

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, $"/api/workspaces/{victim}/audit-events/activity", "atk_0123456789abcdef_guess")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(http, $"/api/workspaces/{victim}/audit-events/activity", strangerOwner)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(http, $"/api/workspaces/{victim}/audit-events/activity", victimIngest)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, $"/api/workspaces/{victim}/audit-events/activity", victimOwner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(victim), victimOwner)).StatusCode);
    }

    [Fact]
    public async Task Costly_requests_spend_their_own_workspace_bucket_and_cheap_reads_go_on()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("Costly", 3)));
        using var http = app.CreateClient();
        var (ws, other) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        var owner = await TokenAsync(app, ws);
        var otherOwner = await TokenAsync(app, other);

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, $"/api/workspaces/{ws}/audit-events/activity", owner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(ws, "?type=Source%20Modified,Source%20Disabled"), owner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(ws, "?type=Source%20Modified&type=Source%20Disabled"), owner)).StatusCode);

        await AssertRateLimitedAsync(await GetAsync(http, $"/api/workspaces/{ws}/audit-events/activity", owner));
        await AssertRateLimitedAsync(await GetAsync(http, $"/api/workspaces/{ws}/integrity/verification", owner));
        await AssertRateLimitedAsync(await GetAsync(http, List(ws, "?type=Source%20Modified,Source%20Disabled"), owner));
        await AssertRateLimitedAsync(await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{ws}/exports")
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", owner) },
        }, Ct));
        // One type, or none, is one scan: not costly.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(ws, "?type=Source%20Modified"), owner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, List(ws), owner)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, $"/api/workspaces/{other}/audit-events/activity", otherOwner)).StatusCode);
    }

    [Fact]
    public async Task Standalone_bad_tokens_from_one_address_are_limited_before_authentication_and_a_spoofed_X_Forwarded_For_does_not_escape()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("PerAddress", 3)));
        using var attacker = ClientFrom(app, "198.51.100.7");
        using var neighbour = ClientFrom(app, "198.51.100.8");
        var ws = TestEvents.NewWorkspaceId();
        const string BadToken = "atk_0123456789abcdef_notTheSecretnotTheSecretnotTheSecretnotTheSe";

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(attacker, List(ws), BadToken)).StatusCode);
        }
        await AssertRateLimitedAsync(await GetAsync(attacker, List(ws), BadToken));
        await AssertRateLimitedAsync(await GetAsync(attacker, "/api/access-token", BadToken));
        await AssertRateLimitedAsync(await GetAsync(attacker, "/no/such/route", null));
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, List(ws));
        spoofed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BadToken);
        spoofed.Headers.Add(ClientAddress.ForwardedForHeader, "203.0.113.77");
        await AssertRateLimitedAsync(await attacker.SendAsync(spoofed, Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(neighbour, List(ws), BadToken)).StatusCode);
    }

    [Fact]
    public async Task Under_the_Functions_host_the_client_is_the_last_X_Forwarded_For_entry_and_entries_the_client_wrote_do_not_escape()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: AuditTrailAppFactory.UnderFunctionsHost(Limits(("PerAddress", 3))));
        using var host = ClientFrom(app, "127.0.0.1"); // every request reaches the handler from the host on loopback
        var ws = TestEvents.NewWorkspaceId();
        Task<HttpResponseMessage> From(string forwardedFor)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, List(ws));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "atk_bad");
            request.Headers.Add(ClientAddress.ForwardedForHeader, forwardedFor);
            return host.SendAsync(request, Ct);
        }

        Assert.Equal("CustomHandler", (await host.GetFromJsonAsync<JsonElement>("/api/status", Ct)).GetProperty("mode").GetString());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await From("203.0.113.5:50123")).StatusCode);
        }
        await AssertRateLimitedAsync(await From("203.0.113.5:50999"));
        // What the client put in front of the platform's entry changes nothing.
        await AssertRateLimitedAsync(await From("198.51.100.1, 203.0.113.5:51000"));

        // Another client, through the same host connection, is served.
        Assert.Equal(HttpStatusCode.Unauthorized, (await From("203.0.113.6:50123")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await From("203.0.113.5, 203.0.113.6")).StatusCode);
    }

    [Theory]
    [InlineData("203.0.113.5", "203.0.113.5")]
    [InlineData("203.0.113.5:443", "203.0.113.5")]
    [InlineData("198.51.100.1, 203.0.113.5", "203.0.113.5")]
    [InlineData("[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64")]
    [InlineData("::ffff:203.0.113.5", "203.0.113.5")]
    [InlineData("203.0.113.5, not an address", "127.0.0.1")]
    public void The_client_address_key_is_the_last_forwarded_entry_per_IPv6_64_under_the_host_and_the_connection_standalone(string forwardedFor, string expected)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Loopback;
        http.Request.Headers[ClientAddress.ForwardedForHeader] = forwardedFor;

        Assert.Equal(expected, ClientAddress.Key(http, HostingMode.CustomHandler));
        Assert.Equal("127.0.0.1", ClientAddress.Key(http, HostingMode.Standalone));
    }

    [Fact]
    public async Task Invocation_endpoints_the_page_its_assets_and_the_status_probe_are_never_rate_limited()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: Limits(("PerAddress", 1), ("PerToken", 1), ("PerWorkspace", 1)));
        using var http = ClientFrom(app, "127.0.0.1");
        var ws = TestEvents.NewWorkspaceId();

        // The limit is in force for this address...
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, List(ws), "atk_bad")).StatusCode);
        await AssertRateLimitedAsync(await GetAsync(http, List(ws), "atk_bad"));

        // ...and none of these is refused, however many.
        for (var i = 0; i < 3; i++)
        {
            var invocation = await http.PostAsync("/IngestAuditEvents",
                new StringContent(TestEvents.EventHubInvocation([TestEvents.Event(ws, $"evt_invoked_{i}").ToJsonString()], firstSequenceNumber: 100 + i), Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, invocation.StatusCode);
            Assert.Equal(1, (await invocation.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("ReturnValue").GetProperty("accepted").GetInt32());
            foreach (var path in new[] { "/", "/assets/app.js", "/assets/app.css", "/assets/favicon.svg", "/api/status" })
            {
                Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, path, null)).StatusCode);
            }
        }
    }

    [Fact]
    public void Every_function_the_host_invokes_is_exempt_and_no_public_route_is()
    {
        var hostOnly = AppLayout.Functions()
            .Where(f => !AppLayout.Bindings(f.Value).Any(b => b.GetProperty("type").GetString() == "httpTrigger"))
            .Select(f => f.Key)
            .ToList();

        Assert.NotEmpty(hostOnly);
        Assert.Equal(hostOnly.Order(StringComparer.Ordinal), RateLimitExemptions.HostOnlyFunctions.Order(StringComparer.Ordinal));
        Assert.All(hostOnly, f => Assert.True(RateLimitExemptions.IsExempt("/" + f), f));
        foreach (var limited in new[] { "/api/workspaces/{workspaceId}/audit-events", "/api/access-token", "/api/integrity/keys", "/openapi/{documentName}.json", null })
        {
            Assert.False(RateLimitExemptions.IsExempt(limited), limited);
        }
    }

    [Fact]
    public async Task A_second_verification_of_a_workspace_while_one_runs_is_refused_and_another_workspace_is_verified_meanwhile()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString);
        using var http = app.CreateClient();
        var (ws, other) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        var owner = await TokenAsync(app, ws);
        var otherOwner = await TokenAsync(app, other);
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Holds the first verification on its first read of the workspace's rows, until released.
        storage.OnRequest = async request =>
        {
            if (request.Target.Contains(ws, StringComparison.Ordinal))
            {
                reading.TrySetResult();
                await release.Task;
            }
        };
        var verification = $"/api/workspaces/{ws}/integrity/verification";

        var first = GetAsync(http, verification, owner);
        await reading.Task.WaitAsync(Ct);
        try
        {
            await AssertRateLimitedAsync(await GetAsync(http, verification, owner));
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, $"/api/workspaces/{other}/integrity/verification", otherOwner)).StatusCode);
        }
        finally
        {
            release.TrySetResult();
        }

        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        // The slot is free again once the first has answered.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, verification, owner)).StatusCode);
    }

    [Theory]
    [InlineData("PerAddressBurst", "0", "'AuditTrail:RateLimits:PerAddressBurst'")]
    [InlineData("PerTokenRate", "-1", "'AuditTrail:RateLimits:PerTokenRate'")]
    [InlineData("ReplenishmentPeriod", "00:00:00", "'AuditTrail:RateLimits:ReplenishmentPeriod'")]
    [InlineData("MaxConcurrentVerifications", "0", "'AuditTrail:RateLimits:MaxConcurrentVerifications'")]
    [InlineData("MaxRunningExports", "many", "'AuditTrail:RateLimits:MaxRunningExports'")]
    [InlineData("CostlyRate", "500", "'AuditTrail:RateLimits'")]
    public void A_bad_rate_limit_setting_fails_the_start_up_checks_naming_it(string name, string value, string named)
    {
        // The registration the app makes, checked as Program checks it before serving (the app run
        // as a process with a bad setting: StartupTests).
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"{RateLimitOptions.Section}:{name}"] = value })
            .Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddAuditTrailRateLimits();
        using var provider = services.BuildServiceProvider();

        var ex = Record.Exception(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.NotNull(ex);
        var line = StartupFailure.Describe(ex);
        Assert.True(line is not null, ex.ToString());
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_rate_limits_pass_the_start_up_checks()
    {
        var services = new ServiceCollection().AddSingleton<IConfiguration>(new ConfigurationBuilder().Build()).AddLogging();
        services.AddAuditTrailRateLimits();
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Null(provider.GetRequiredService<IOptions<RateLimitOptions>>().Value.Problem());
    }

    [Fact]
    public async Task The_OpenAPI_document_lists_429_rate_limited_on_limited_routes_and_not_on_the_status_probe()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var paths = (await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json", Ct)).GetProperty("paths");

        foreach (var (path, method) in new[]
                 {
                     ("/api/workspaces/{workspaceId}/audit-events", "get"), ("/api/workspaces/{workspaceId}/audit-events", "post"),
                     ("/api/workspaces/{workspaceId}/audit-events/activity", "get"), ("/api/workspaces/{workspaceId}/integrity/verification", "get"),
                     ("/api/workspaces/{workspaceId}/exports", "post"), ("/api/access-token", "get"),
                 })
        {
            var answer = paths.GetProperty(path).GetProperty(method).GetProperty("responses").GetProperty("429");
            Assert.Contains("rate_limited", answer.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.True(answer.GetProperty("content").TryGetProperty("application/problem+json", out _), path);
        }
        Assert.False(paths.GetProperty("/api/status").GetProperty("get").GetProperty("responses").TryGetProperty("429", out _));
    }
}

/// <summary>The bound on unfinished exports; in the export queue's collection because it runs an export to free a place.</summary>
[Collection(ExportQueueGroup.Name)]
public sealed class ExportRateLimitTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> CreateExportAsync(HttpClient http, string workspaceId, string token) =>
        http.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{workspaceId}/exports")
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
        }, Ct);

    [Fact]
    public async Task An_export_over_the_workspace_bound_of_unfinished_exports_is_refused_until_one_finishes_and_other_workspaces_export_meanwhile()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            [RateLimitOptions.Section + ":MaxRunningExports"] = "1",
        });
        using var http = app.CreateClient();
        var (ws, other) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        var owner = await RateLimitTests.TokenAsync(app, ws);
        var otherOwner = await RateLimitTests.TokenAsync(app, other);

        var first = await CreateExportAsync(http, ws, owner);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await RateLimitTests.AssertRateLimitedAsync(await CreateExportAsync(http, ws, owner));
        Assert.Equal(HttpStatusCode.Accepted, (await CreateExportAsync(http, other, otherOwner)).StatusCode);

        var id = (await first.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        Assert.Equal(ExportStatus.Succeeded, (await ExportRuns.CompleteAsync(app.Services, ws, id, Ct)).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateExportAsync(http, ws, owner)).StatusCode);
    }
}
