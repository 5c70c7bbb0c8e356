using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Many producers sending overlapping batches at the same moment, through both doors: the id claim
/// decides each event exactly once, so the answers add up exactly and storage holds one copy.
/// </summary>
public sealed class ConcurrencyTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Overlapping_batches_from_many_producers_leave_one_copy_and_answers_that_add_up_exactly()
    {
        const int Events = 400, Producers = 8, BatchesEach = 4, BatchSize = 100;
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_conc", Events);
        // Producer p's batch k starts at (p * 150 + k * 100) mod 400: every event is sent by several
        // producers, in different batch company, at about the same time. Two producers use the Event Hubs door.
        List<JsonObject> Batch(int p, int k) => Enumerable.Range(0, BatchSize).Select(i => events[((p * 150) + (k * 100) + i) % Events]).ToList();
        using var start = new SemaphoreSlim(0, Producers);
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            await start.WaitAsync(Ct);
            var answers = new List<JsonElement>();
            for (var k = 0; k < BatchesEach; k++)
            {
                if (p < 2)
                {
                    var invoked = await StoredTrail.InvokeEventHubAsync(http, Batch(p, k));
                    Assert.Equal(HttpStatusCode.OK, invoked.StatusCode);
                    answers.Add((await StoredTrail.JsonAsync(invoked)).GetProperty("ReturnValue"));
                }
                else
                {
                    var posted = await StoredTrail.PostAsync(http, ws, Batch(p, k));
                    Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
                    answers.Add(await StoredTrail.JsonAsync(posted));
                }
            }
            return answers;
        }, Ct)).ToList();
        start.Release(Producers);
        var answers = (await Task.WhenAll(producers)).SelectMany(a => a).ToList();

        var sent = Producers * BatchesEach * BatchSize;
        Assert.Equal(sent, answers.Sum(a => a.GetProperty("received").GetInt32()));
        Assert.Equal(Events, answers.Sum(a => a.GetProperty("accepted").GetInt32()));
        Assert.Equal(sent - Events, answers.Sum(a => a.GetProperty("duplicates").GetInt32()));
        Assert.Equal(0, answers.Sum(a => a.GetProperty("rejectedCount").GetInt32()));
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }

    [Fact]
    public async Task Concurrent_reuse_of_ids_with_different_content_stores_one_version_and_rejects_the_other_as_a_conflict()
    {
        const int Ids = 20;
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        List<JsonObject> Version(string actor) => Enumerable.Range(0, Ids)
            .Select(i => TestEvents.Event(ws, $"evt_race_{i:D2}", timestamp: at, actorId: actor)).ToList();

        var answers = await Task.WhenAll(
            Task.Run(async () => await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, Version("usr_a"))), Ct),
            Task.Run(async () => await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, Version("usr_b"))), Ct));

        Assert.Equal(Ids, answers.Sum(a => a.GetProperty("accepted").GetInt32()));
        Assert.Equal(Ids, answers.Sum(a => a.GetProperty("rejectedCount").GetInt32()));
        Assert.All(answers.SelectMany(a => a.GetProperty("rejected").EnumerateArray()), r => Assert.Equal("conflict", r.GetProperty("code").GetString()));
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, Enumerable.Range(0, Ids).Select(i => $"evt_race_{i:D2}").ToList());
        // Each id kept one whole version: its four rows agree on the actor.
        var rows = (await clients.Tables.GetTableClient(Core.Trail.TrailTables.EventsTable).PartitionAsync(Core.Trail.TrailKeys.PartitionKey(ws, at), Ct))
            .Where(r => r.GetString("Door") != "system").ToList();
        Assert.All(rows.GroupBy(r => r.GetString("EventId")), g => Assert.Single(g.Select(r => r.GetString("ActorId")).Distinct()));
    }
}
