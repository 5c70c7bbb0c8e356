using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Functions.Hosting;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>The documented size limits, at their exact edges: the limit itself is taken, one more is refused with its code.</summary>
public sealed class LimitsTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A valid event whose JSON text is exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static string EventOfSize(string workspaceId, string id, int bytes)
    {
        JsonObject Build(int pad)
        {
            var e = TestEvents.Event(workspaceId, id);
            // Split between changes and properties: each is stored as one string property of at most 30,000 characters.
            e["properties"] = new JsonObject { ["pad"] = new string('p', 15_000) };
            e["changes"] = new JsonArray(new JsonObject { ["field"] = "note", ["before"] = new string('c', pad), ["after"] = null });
            return e;
        }
        var pad = bytes - Encoding.UTF8.GetByteCount(Build(0).ToJsonString());
        var text = Build(pad).ToJsonString();
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(text));
        return text;
    }

    [Fact]
    public async Task Event_of_exactly_the_size_limit_is_stored_and_one_byte_more_is_rejected_beside_its_stored_sibling()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var body = "[" + EventOfSize(ws, "evt_limit", EventLimits.MaxEventBytes) + ","
                   + EventOfSize(ws, "evt_over", EventLimits.MaxEventBytes + 1) + ","
                   + TestEvents.Event(ws, "evt_small").ToJsonString() + "]";

        var response = await http.PostAsync($"/api/workspaces/{ws}/audit-events", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await StoredTrail.JsonAsync(response);
        Assert.Equal(2, answer.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(answer.GetProperty("rejected").EnumerateArray());
        Assert.Equal("event_too_large", rejected.GetProperty("code").GetString());
        Assert.Equal(1, rejected.GetProperty("index").GetInt32());
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, ["evt_limit", "evt_small"]);
    }

    [Fact]
    public async Task Body_of_exactly_4_MiB_is_read_and_one_byte_more_is_a_413()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        string Body(long size) => "[" + new string(' ', (int)size - 2) + "]";

        var atLimit = await http.PostAsync($"/api/workspaces/{ws}/audit-events", new StringContent(Body(HttpLimits.MaxIngestBodyBytes), Encoding.UTF8, "application/json"), Ct);
        var over = await http.PostAsync($"/api/workspaces/{ws}/audit-events", new StringContent(Body(HttpLimits.MaxIngestBodyBytes + 1), Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over.StatusCode);
        Assert.Equal("request_too_large", (await StoredTrail.JsonAsync(over)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Batch_of_exactly_1000_events_is_stored_whole()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_thousand", HttpLimits.MaxEventsPerRequest);

        var response = await StoredTrail.PostAsync(http, ws, events);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1000, (await StoredTrail.JsonAsync(response)).GetProperty("accepted").GetInt32());
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }
}
