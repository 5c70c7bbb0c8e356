using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Query;

public sealed record Seed(string Id, DateTimeOffset Timestamp, string Type, string Area, string ActorType, string ActorId, string ResourceType, string ResourceId);

/// <summary>
/// A workspace with 70 events over 96 days (so some are past the 90-day retention window),
/// three actors (two users and an access token, plus one hostile actor id), four types in three
/// product areas and five resources, at distinct times. Events are ingested through the real
/// service; the clock is set back for the oldest so ingestion accepts them.
/// </summary>
public sealed class SeededTrail : IAsyncDisposable
{
    public const string HostileId = "x' or PartitionKey ne '";
    private static readonly (string Type, string Area)[] Types =
        [("Source Created", "Source"), ("Source Disabled", "Source"), ("Warehouses Modified", "Warehouses"), ("Audience Created", "Engage")];
    private static readonly (string Type, string Id)[] Actors = [("user", "usr_a"), ("user", "usr_b"), ("token", "tok_1")];
    private static readonly (string Type, string Id)[] Resources = [("source", "src_1"), ("source", "src_2"), ("warehouse", "wh_1"), ("audience", "aud_1"), ("source", HostileId)];

    private SeededTrail(AuditTrailAppFactory app, TestClock clock, string workspaceId, List<Seed> seeds, string ownerToken)
    {
        App = app;
        Clock = clock;
        WorkspaceId = workspaceId;
        Seeds = seeds;
        OwnerToken = ownerToken;
        Http = app.CreateClient();
    }

    public AuditTrailAppFactory App { get; }
    public TestClock Clock { get; }
    public string WorkspaceId { get; }
    public IReadOnlyList<Seed> Seeds { get; }
    public string OwnerToken { get; }
    public HttpClient Http { get; }

    public static async Task<SeededTrail> CreateAsync(AzuriteFixture azurite, CancellationToken ct)
    {
        // The real time, not AtTestTime: exports of this trail hand out SAS links that Azurite judges
        // by its own clock. The clock runs of scripts/test put both at 23:59 and 00:01 instead.
        var now = DateTimeOffset.UtcNow;
        var clock = new TestClock(now);
        var app = new AuditTrailAppFactory(azurite.ConnectionString, clock);
        var ws = TestEvents.NewWorkspaceId();
        var seeds = new List<Seed>();
        for (var i = 0; i < 70; i++)
        {
            var (type, area) = Types[i % Types.Length];
            var (actorType, actorId) = i == 7 ? ("user", HostileId) : Actors[i % Actors.Length];
            var (resourceType, resourceId) = Resources[i % Resources.Length];
            seeds.Add(new Seed($"evt_{i:D3}", now.AddHours(-33 * i).AddMinutes(-i), type, area, actorType, actorId, resourceType, resourceId));
        }
        var ingestion = app.Services.GetRequiredService<IngestionService>();
        async Task IngestAsync(IEnumerable<Seed> batch)
        {
            var raw = batch.Select(s => RawEvent.FromText(TestEvents.Event(ws, s.Id, s.Type, s.Timestamp, s.ActorType, s.ActorId, s.ResourceType, s.ResourceId).ToJsonString())).ToList();
            var result = await ingestion.IngestAsync(raw, new IngestContext(IngestDoors.Http), ct);
            Assert.Empty(result.Rejected);
        }
        clock.Now = now.AddDays(-10);
        await IngestAsync(seeds.Where(s => s.Timestamp < now.AddDays(-80)));
        clock.Now = now;
        await IngestAsync(seeds.Where(s => s.Timestamp >= now.AddDays(-80)));
        // Creating the owner token is itself recorded in the trail: one more event, the newest.
        clock.Now = now.AddSeconds(1);
        var (info, owner) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "tests", ct);
        // Its id has a random part (the trail's own ids cannot be guessed): read back from its claim.
        var recordId = await TrailRecords.IdAsync(app.Services, ws, "access-token-created", info.Id, ct);
        seeds.Add(new Seed(recordId, clock.Now, "Access Token Created", "Audit Trail", "system", "token-admin", "access-token", info.Id));
        clock.Now = now;
        return new SeededTrail(app, clock, ws, seeds, owner);
    }

    /// <summary>What the trail should answer: matching seeds inside retention, newest first.</summary>
    public List<string> Expected(Func<Seed, bool> filter) =>
        Seeds.Where(s => s.Timestamp >= Clock.Now.AddDays(-EventLimits.RetentionDays)).Where(filter)
            .OrderByDescending(s => s.Timestamp).Select(s => s.Id).ToList();

    public async Task<HttpResponseMessage> GetAsync(string pathAndQuery, string? token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return await Http.SendAsync(request, ct);
    }

    /// <summary>Follows nextLink to the end; returns the ids in order and the number of pages.</summary>
    public async Task<(List<string> Ids, int Pages)> PageAllAsync(string query, int limit, CancellationToken ct)
    {
        var ids = new List<string>();
        var pages = 0;
        string? next = $"/api/workspaces/{WorkspaceId}/audit-events?{query}{(query.Length > 0 ? "&" : "")}limit={limit}";
        while (next is not null)
        {
            var response = await GetAsync(next, OwnerToken, ct);
            Assert.True(response.IsSuccessStatusCode, $"{next} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            var page = body.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
            Assert.True(page.Count <= limit);
            Assert.True(page.Count > 0 || pages == 0, "A page other than the first came back empty: the previous page should not have had a nextLink.");
            ids.AddRange(page);
            pages++;
            next = body.TryGetProperty("nextLink", out var link) ? link.GetString()! : null;
            Assert.True(pages < 100, "Paging does not end.");
        }
        return (ids, pages);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }

}
