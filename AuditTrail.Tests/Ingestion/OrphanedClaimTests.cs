using System.Net;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;

namespace AuditTrail.Tests.Ingestion;

/// <summary>
/// A claim whose rows were never written (storage failed between the two and the producer gave
/// up): once older than any ingest can run, it no longer refuses a later event with that id as a
/// conflict with nothing; younger, it may belong to a call still writing, and an id whose event is
/// stored stays refused.
/// </summary>
public sealed class OrphanedClaimTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_claim_left_without_rows_is_taken_over_by_a_later_event_once_it_is_older_than_any_ingest()
    {
        var clock = TestClock.AtTestTime();
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, clock, storageRetries: 1);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var first = TestEvents.Event(ws, "evt_orphan", timestamp: clock.Now.AddMinutes(-1));
        // The claim goes through; the rows never do, and the producer gives up.
        storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.ServerBusy) : null;
        await StoredTrail.AssertStorageUnavailableAsync(await StoredTrail.PostAsync(http, ws, [first]));
        storage.Faults = _ => null;

        // Minutes later the id comes with other content: the claim may still be a call in flight.
        clock.Now += TimeSpan.FromMinutes(5);
        var second = TestEvents.Event(ws, "evt_orphan", type: "Source Enabled", timestamp: clock.Now.AddMinutes(-1));
        var young = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, [second]));
        Assert.Equal("conflict", young.GetProperty("rejected")[0].GetProperty("code").GetString());

        // Past the orphan age, the same event is stored, once, with its own content.
        clock.Now += TimeSpan.FromMinutes(15);
        var old = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, [second]));
        Assert.Equal(1, old.GetProperty("accepted").GetInt32());
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, ["evt_orphan"], clock.Now.AddMinutes(-16));
        var stored = await StoredTrail.JsonAsync(await http.GetAsync($"/api/workspaces/{ws}/audit-events", Ct));
        Assert.Equal("Source Enabled", Assert.Single(stored.GetProperty("value").EnumerateArray(), e => e.GetProperty("id").GetString()!.StartsWith("evt_", StringComparison.Ordinal)).GetProperty("type").GetString());

        // The first producer's replay now meets a stored event with other content: a conflict, kept in the dead letters.
        var replay = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, [first]));
        Assert.Equal("conflict", replay.GetProperty("rejected")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_stored_event_s_claim_is_never_taken_over_however_old()
    {
        var clock = TestClock.AtTestTime();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, clock);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var first = TestEvents.Event(ws, "evt_kept", timestamp: clock.Now.AddMinutes(-1));
        Assert.Equal(HttpStatusCode.OK, (await StoredTrail.PostAsync(http, ws, [first])).StatusCode);

        clock.Now += TimeSpan.FromDays(2);
        var other = TestEvents.Event(ws, "evt_kept", type: "Source Enabled", timestamp: clock.Now.AddMinutes(-1));
        var answer = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, [other]));

        Assert.Equal("conflict", answer.GetProperty("rejected")[0].GetProperty("code").GetString());
        var stored = await StoredTrail.JsonAsync(await http.GetAsync($"/api/workspaces/{ws}/audit-events?start={Uri.EscapeDataString(clock.Now.AddDays(-3).ToString("O"))}", Ct));
        Assert.Equal("Source Disabled", Assert.Single(stored.GetProperty("value").EnumerateArray(), e => e.GetProperty("id").GetString()!.StartsWith("evt_", StringComparison.Ordinal)).GetProperty("type").GetString());
    }
}
