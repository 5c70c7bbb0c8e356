using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Azure.Data.Tables;

namespace AuditTrail.Tests.Query;

/// <summary>
/// Every event says where it came from (<c>hub</c>, <c>api</c> or <c>trail</c>), as recorded at
/// ingestion, in the list and on the single-event route; a stored row without a door (none is known)
/// reads back without one rather than failing.
/// </summary>
public sealed class EventSourceTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task List_and_single_event_say_where_each_event_came_from()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var owner = await StoredTrail.IngestClientAsync(app, ws); // its creation is the trail's own record
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        using var api = await StoredTrail.PostAsync(owner, ws, [TestEvents.Event(ws, "evt_api", timestamp: at)]);
        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        using var hub = await StoredTrail.InvokeEventHubAsync(owner, [TestEvents.Event(ws, "evt_hub", timestamp: at)]);
        Assert.Equal(HttpStatusCode.OK, hub.StatusCode);

        var page = await owner.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events?limit=1000", Ct);

        var sources = page.GetProperty("value").EnumerateArray().ToDictionary(e => e.GetProperty("type").GetString() == "Access Token Created" ? "token" : e.GetProperty("id").GetString()!, e => e.GetProperty("source").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["evt_api"] = EventSources.Api, ["evt_hub"] = EventSources.Hub, ["token"] = EventSources.Trail }, sources);
        foreach (var e in page.GetProperty("value").EnumerateArray())
        {
            var single = await owner.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events/{Uri.EscapeDataString(e.GetProperty("id").GetString()!)}", Ct);
            Assert.Equal(e.GetProperty("source").GetString(), single.GetProperty("source").GetString());
            // Last, after every field a reader knew before it.
            Assert.Equal("source", single.EnumerateObject().Last().Name);
        }
    }

    [Fact]
    public async Task A_stored_row_without_a_door_reads_back_without_a_source()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var owner = await StoredTrail.IngestClientAsync(app, ws);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        using var posted = await StoredTrail.PostAsync(owner, ws, [TestEvents.Event(ws, "evt_doorless", timestamp: at)]);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        using var clients = azurite.CreateClients();
        var events = clients.Tables.GetTableClient(TrailTables.EventsTable);
        await foreach (var row in events.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {TrailKeys.PartitionKey(ws, at)} and EventId eq {"evt_doorless"}"), cancellationToken: Ct))
        {
            row.Remove("Door");
            await events.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);
        }

        var single = await owner.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events/evt_doorless", Ct);

        Assert.Equal("evt_doorless", single.GetProperty("id").GetString());
        Assert.False(single.TryGetProperty("source", out _));
    }
}
