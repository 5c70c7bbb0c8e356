using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Page;

/// <summary>
/// The real app on a real loopback port (a browser cannot reach an in-memory test server), with a
/// workspace of its own and an owner token for it.
/// </summary>
public sealed class PageApp : IAsyncDisposable
{
    private PageApp(AuditTrailAppFactory app, string baseUrl, string workspaceId, string ownerToken, AccessTokenInfo ownerInfo)
    {
        App = app;
        BaseUrl = baseUrl;
        WorkspaceId = workspaceId;
        OwnerToken = ownerToken;
        OwnerInfo = ownerInfo;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ownerToken);
    }

    public AuditTrailAppFactory App { get; }
    public string BaseUrl { get; }
    public string WorkspaceId { get; }
    public string OwnerToken { get; }
    public AccessTokenInfo OwnerInfo { get; }
    /// <summary>A client of the app's real port, signed in as the workspace's owner.</summary>
    public HttpClient Http { get; }
    public AccessTokenService Tokens => App.Services.GetRequiredService<AccessTokenService>();

    /// <param name="storage">Another way to the test run's Azurite (a <see cref="FaultyStorage"/>'s), if not straight to it.</param>
    public static async Task<PageApp> StartAsync(AzuriteFixture azurite, CancellationToken ct, TimeProvider? time = null, string? storage = null)
    {
        // Exports run as they do for a user of a standalone app: its own poller takes them from the queue.
        var app = new AuditTrailAppFactory(storage ?? azurite.ConnectionString, time, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Export:PollQueue"] = "true",
            ["AuditTrail:Export:MaxPollingInterval"] = "00:00:00.200",
        });
        app.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        app.StartServer();
        var baseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var workspaceId = TestEvents.NewWorkspaceId();
        var (info, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(workspaceId, Roles.Owner, null, "Page tests", ct);
        return new PageApp(app, baseUrl, workspaceId, token, info);
    }

    /// <summary>Ingests through the public API, as a producer would, and checks every event was accepted.</summary>
    public async Task IngestAsync(IEnumerable<JsonObject> events, CancellationToken ct)
    {
        foreach (var batch in events.Chunk(500))
        {
            using var response = await StoredTrail.PostAsync(Http, WorkspaceId, batch);
            var body = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Equal(batch.Length, JsonNode.Parse(body)!["accepted"]!.GetValue<int>());
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }
}
