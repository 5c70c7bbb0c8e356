using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Reads what storage really holds for a workspace, directly (never through the proxy or the app),
/// so a test can say "stored exactly once" about every event it sent.
/// </summary>
public static class StoredTrail
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Row counts per event id (a complete event has exactly 4: primary, actor, type, resource), system events left out.</summary>
    public static async Task<Dictionary<string, int>> RowsPerEventAsync(RegisteredStorage clients, string workspaceId, IEnumerable<DateTimeOffset> days)
    {
        var table = clients.Tables.GetTableClient(TrailTables.EventsTable);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var day in days.Select(d => d.UtcDateTime.Date).Distinct())
        {
            foreach (var row in await table.PartitionAsync(TrailKeys.PartitionKey(workspaceId, day), Ct))
            {
                if (row.GetString("Door") != "system")
                {
                    var id = row.GetString("EventId")!;
                    counts[id] = counts.GetValueOrDefault(id) + 1;
                }
            }
        }
        return counts;
    }

    /// <summary>Event ids claimed in the workspace, system events left out.</summary>
    public static async Task<List<string>> ClaimedIdsAsync(RegisteredStorage clients, string workspaceId) =>
        (await clients.Tables.GetTableClient(TrailTables.EventIdsTable).PartitionAsync(workspaceId, Ct))
            .Where(c => c.GetString("Door") != "system")
            .Select(c => c.GetString("EventId")!)
            .ToList();

    /// <summary>
    /// Today and yesterday (UTC): the days <see cref="Events"/> without a time can have landed on,
    /// however long ago they were made, so a test that crosses midnight still finds them.
    /// </summary>
    public static DateTimeOffset[] RecentDays()
    {
        var now = DateTimeOffset.UtcNow;
        return [now, now.AddDays(-1)];
    }

    /// <summary>Every id in <paramref name="ids"/> has one claim and its four rows, and nothing else is stored.</summary>
    public static async Task AssertStoredExactlyOnceAsync(RegisteredStorage clients, string workspaceId, IReadOnlyCollection<string> ids, params DateTimeOffset[] days)
    {
        var rows = await RowsPerEventAsync(clients, workspaceId, days.Length == 0 ? RecentDays() : days);
        var claims = await ClaimedIdsAsync(clients, workspaceId);
        Assert.Equal(ids.Order(StringComparer.Ordinal), claims.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.True(r.Value == 4, $"Event {r.Key} has {r.Value} rows, not 4."));
    }

    /// <summary>Events with the same minute-old timestamp (one day partition), ids from <paramref name="prefix"/>.</summary>
    public static List<JsonObject> Events(string workspaceId, string prefix, int count, DateTimeOffset? at = null)
    {
        var timestamp = at ?? DateTimeOffset.UtcNow.AddMinutes(-1);
        return Enumerable.Range(0, count)
            .Select(i => TestEvents.Event(workspaceId, $"{prefix}_{i:D4}", timestamp: timestamp.AddMilliseconds(-i), actorId: $"usr_{i % 5}"))
            .ToList();
    }

    /// <summary>A client of the app carrying a new token of the workspace (owner unless said otherwise: queries need it).</summary>
    public static async Task<HttpClient> IngestClientAsync(AuditTrailAppFactory app, string workspaceId, string role = Roles.Owner)
    {
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(workspaceId, role, null, "reliability", Ct)).Token;
        var http = app.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    public static Task<HttpResponseMessage> PostAsync(HttpClient http, string workspaceId, IEnumerable<JsonObject> events) =>
        http.PostAsync($"/api/workspaces/{workspaceId}/audit-events", new StringContent(TestEvents.Array([.. events]), Encoding.UTF8, "application/json"), Ct);

    public static Task<HttpResponseMessage> InvokeEventHubAsync(HttpClient http, IEnumerable<JsonObject> events) =>
        http.PostAsync("/IngestAuditEvents", new StringContent(TestEvents.EventHubInvocation([.. events.Select(e => e.ToJsonString())]), Encoding.UTF8, "application/json"), Ct);

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).Clone();

    /// <summary>A 503 <c>storage_unavailable</c> problem with Retry-After: the producer is told to come back, and nothing was acknowledged.</summary>
    public static async Task AssertStorageUnavailableAsync(HttpResponseMessage response)
    {
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("storage_unavailable", (await JsonAsync(response)).GetProperty("code").GetString());
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
    }
}
