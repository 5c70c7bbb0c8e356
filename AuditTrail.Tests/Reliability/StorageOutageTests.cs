using System.Net;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Azurite itself stopped in the middle of an ingest and started again (its data kept on disk),
/// behind the fault proxy so the app keeps one connection string across the restart.
/// </summary>
public sealed class StorageOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Replayed_batch_after_outage_leaves_one_copy()
    {
        var data = Directory.CreateTempSubdirectory("audittrail-outage-");
        var azurite = await AzuriteProcess.StartAsync(data.FullName);
        try
        {
            await using var storage = new FaultyStorage(azurite.ConnectionString);
            await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 2);
            var ws = TestEvents.NewWorkspaceId();
            using var http = await StoredTrail.IngestClientAsync(app, ws);
            var before = StoredTrail.Events(ws, "evt_before", 50);
            Assert.Equal(HttpStatusCode.OK, (await StoredTrail.PostAsync(http, ws, before)).StatusCode);

            // Azurite goes down the moment the first rows of the next batch are sent: its ids are
            // claimed, its rows not written. The batch also repeats ten events already stored.
            var during = StoredTrail.Events(ws, "evt_during", 300).Concat(before.Take(10)).ToList();
            var down = 0;
            storage.OnRequest = async r =>
            {
                if (r.IsTransaction && r.Touches(TrailTables.EventsTable) && Interlocked.Exchange(ref down, 1) == 0)
                {
                    await azurite.StopAsync();
                }
            };

            var viaHttp = await StoredTrail.PostAsync(http, ws, during);
            var viaHost = await StoredTrail.InvokeEventHubAsync(http, during);
            var query = await http.GetAsync($"/api/workspaces/{ws}/audit-events", Ct);

            Assert.Equal(1, down);
            Assert.Empty(storage.Errors);
            await StoredTrail.AssertStorageUnavailableAsync(viaHttp);
            Assert.False(viaHost.IsSuccessStatusCode, "A batch that was not stored must fail the invocation.");
            await StoredTrail.AssertStorageUnavailableAsync(query);

            azurite = await AzuriteProcess.StartAsync(data.FullName);
            storage.Retarget(azurite.ConnectionString);
            storage.OnRequest = null;
            var replayHttp = await StoredTrail.PostAsync(http, ws, during);
            var replayHost = await StoredTrail.InvokeEventHubAsync(http, during);

            Assert.Equal(HttpStatusCode.OK, replayHttp.StatusCode);
            var answer = await StoredTrail.JsonAsync(replayHttp);
            Assert.Equal(310, answer.GetProperty("accepted").GetInt32() + answer.GetProperty("duplicates").GetInt32());
            Assert.Equal(HttpStatusCode.OK, replayHost.StatusCode);
            Assert.Equal(310, (await StoredTrail.JsonAsync(replayHost)).GetProperty("ReturnValue").GetProperty("duplicates").GetInt32());
            using var clients = AzuriteFixture.CreateClients(azurite.ConnectionString);
            await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, before.Concat(during).Select(e => (string)e["id"]!).Distinct().ToList());
        }
        finally
        {
            azurite.Dispose();
            data.Delete(recursive: true);
        }
    }
}
