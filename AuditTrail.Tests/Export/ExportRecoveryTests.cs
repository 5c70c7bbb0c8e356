using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Tests.Infrastructure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

/// <summary>Exports that stop half-way: a run that dies after staging a block, and a message that fails on every try.</summary>
[Collection(ExportQueueGroup.Name)]
public sealed class ExportRecoveryTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool IsPutBlock(ProxiedRequest r) =>
        r.Service == "blob" && r.Method == "PUT" && r.Target.Contains("comp=block", StringComparison.Ordinal) && !r.Target.Contains("comp=blocklist", StringComparison.Ordinal);

    private static async Task<(string Ws, HttpClient Http)> SeedAsync(AuditTrailAppFactory app, int events)
    {
        var ws = TestEvents.NewWorkspaceId();
        var ingestion = app.Services.GetRequiredService<IngestionService>();
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        foreach (var chunk in Enumerable.Range(0, events).Chunk(1000))
        {
            var batch = chunk.Select(i => RawEvent.FromText(TestEvents.Event(ws, $"evt_{i:D5}", timestamp: now.AddSeconds(-30 * i)).ToJsonString())).ToList();
            Assert.Equal(chunk.Length, (await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), Ct)).Accepted);
        }
        var http = app.CreateClient();
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "recovery", Ct)).Token;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return (ws, http);
    }

    [Fact]
    public async Task A_run_that_dies_after_staging_a_block_is_finished_by_the_redelivery_with_every_row_exactly_once()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        // Tiny blocks: every page of 500 events is a block of its own, so 2,001 rows make five.
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, settings: new Dictionary<string, string> { ["AuditTrail:Export:BlockBytes"] = "1024" });
        var (ws, http) = await SeedAsync(app, 2000);
        using var disposeHttp = http;
        var expected = new List<string>();
        for (string? next = $"/api/workspaces/{ws}/audit-events?limit=1000"; next is not null;)
        {
            var page = await http.GetFromJsonAsync<JsonElement>(next, Ct);
            expected.AddRange(page.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
            next = page.TryGetProperty("nextLink", out var link) ? link.GetString() : null;
        }
        var accepted = await http.PostAsync($"/api/workspaces/{ws}/exports", null, Ct);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        var message = new ExportMessage(ws, id).ToJson();

        // Storage goes away the moment the second block is staged: before its checkpoint is saved.
        var blocks = 0;
        var dead = false;
        storage.Faults = r =>
        {
            if (Volatile.Read(ref dead))
            {
                return new Fault(FaultKind.ResetBeforeForward);
            }
            if (IsPutBlock(r) && Interlocked.Increment(ref blocks) == 2)
            {
                Volatile.Write(ref dead, true);
            }
            return null;
        };
        var died = await ExportRuns.InvokeQueueFunctionAsync(http, message, 1, Ct);
        storage.Faults = _ => null;
        var between = await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);
        var redelivered = await ExportRuns.InvokeQueueFunctionAsync(http, message, 2, Ct);
        var done = await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);

        Assert.Equal(HttpStatusCode.InternalServerError, died.StatusCode);
        // Only the first block was checkpointed; the second was staged, never recorded, and is never committed.
        Assert.Equal(("running", 500), (between.GetProperty("status").GetString(), between.GetProperty("rowCount").GetInt32()));
        Assert.Equal(JsonValueKind.Null, between.GetProperty("downloadUrl").ValueKind);
        Assert.Equal(HttpStatusCode.OK, redelivered.StatusCode);
        Assert.Equal(("succeeded", expected.Count), (done.GetProperty("status").GetString(), done.GetProperty("rowCount").GetInt32()));
        using var anonymous = new HttpClient();
        var rows = CsvRows.Parse(await anonymous.GetStringAsync(done.GetProperty("downloadUrl").GetString(), Ct));
        Assert.Equal(expected, rows.Skip(1).Select(r => r[11]));
        Assert.Equal("timestamp", rows[0][0]);
        Assert.Single(rows, r => r[0] == "timestamp");
        var exports = app.Services.GetRequiredService<ExportService>();
        var blockList = (await exports.Container.GetBlockBlobClient(ExportRecord.FromEntity((await TableRows.FindAsync(
            app.Services.GetRequiredService<Azure.Data.Tables.TableServiceClient>().GetTableClient(ExportService.TableName), ws, id, Ct))!).BlobName)
            .GetBlockListAsync(BlockListTypes.Committed, cancellationToken: Ct)).Value;
        Assert.Equal(5, blockList.CommittedBlocks.Count());
        var audit = await http.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events?type=Audit%20Trail%20Exported", Ct);
        var recorded = Assert.Single(audit.GetProperty("value").EnumerateArray());
        Assert.Equal(expected.Count, recorded.GetProperty("properties").GetProperty("rowCount").GetInt32());
    }

    [Fact]
    public async Task A_message_that_fails_on_every_try_fails_its_export_with_the_reason_reaches_the_poison_queue_and_publishes_nothing()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Export:MaxDequeueCount"] = "2",
            ["AuditTrail:Export:RetryDelay"] = "00:00:00",
        });
        var (ws, http) = await SeedAsync(app, 20);
        using var disposeHttp = http;
        var accepted = await http.PostAsync($"/api/workspaces/{ws}/exports", null, Ct);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        storage.Faults = r => IsPutBlock(r) ? new Fault(FaultKind.ResetBeforeForward) : null;

        var info = await ExportRuns.CompleteAsync(app.Services, ws, id, Ct);
        var status = await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);

        Assert.Equal("failed", info.Status);
        Assert.Equal("failed", status.GetProperty("status").GetString());
        Assert.Contains("failed 2 times", status.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        var reason = status.GetProperty("failureReason").GetString()!;
        Assert.True(reason.Contains("No answer from storage", StringComparison.Ordinal), reason);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("downloadUrl").ValueKind);
        var exports = app.Services.GetRequiredService<ExportService>();
        var poisoned = (await exports.PoisonQueue.PeekMessagesAsync(32, Ct)).Value
            .Select(m => QueueMessages.DecodeBase64(m.Body.ToString()) is { } text ? ExportMessage.TryParse(text) : null);
        Assert.Contains(poisoned, m => m?.ExportId == id);
        var blob = exports.Container.GetBlobClient(ExportService.BlobName(info.CreatedAt, ws, id));
        Assert.False((await blob.ExistsAsync(Ct)).Value);
        var audit = await http.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events?type=Audit%20Trail%20Exported", Ct);
        Assert.Empty(audit.GetProperty("value").EnumerateArray());
    }
}
