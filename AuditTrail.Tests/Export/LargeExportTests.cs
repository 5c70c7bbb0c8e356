using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;
using CsvHelper;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

/// <summary>
/// The whole of a large trail, 200,000 events over 30 days, through the 202 flow: asked for over
/// HTTP, run from the queue one block per run (so the status shows progress between runs), and
/// the file compared row for row with the trail's order.
/// </summary>
public sealed class LargeExportTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private const int Count = 200_000;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Export_of_200k_events_through_the_202_flow_shows_progress_and_holds_every_row_once_in_the_trails_order()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            // One block per run: each run checkpoints and hands the rest to a new message.
            ["AuditTrail:Export:MaxRunTime"] = "00:00:00",
        });
        using var http = app.CreateClient();
        http.Timeout = TimeSpan.FromMinutes(10);
        var ws = TestEvents.NewWorkspaceId();
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var seeding = Stopwatch.StartNew();
        var newestFirst = await SeedPrimaryRowsAsync(app.Services.GetRequiredService<TrailTables>(), ws, now);
        TestContext.Current.SendDiagnosticMessage($"seeded {Count} events in {seeding.Elapsed.TotalSeconds:F0} s");
        var (tokenInfo, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "large export", Ct);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        // The token's own "Access Token Created" is the newest event of all.
        newestFirst.Insert(0, await TrailRecords.IdAsync(app.Services, ws, "access-token-created", tokenInfo.Id, Ct));

        var exporting = Stopwatch.StartNew();
        var accepted = await http.PostAsync($"/api/workspaces/{ws}/exports", null, Ct);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        var seen = new List<(string Status, long Rows)>();
        await ExportRuns.CompleteAsync(app.Services, ws, id, Ct, async _ =>
        {
            var status = await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);
            seen.Add((status.GetProperty("status").GetString()!, status.GetProperty("rowCount").GetInt64()));
        });
        var done = await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);
        TestContext.Current.SendDiagnosticMessage($"exported in {exporting.Elapsed.TotalSeconds:F0} s: {string.Join(", ", seen.Select(s => $"{s.Status} {s.Rows}"))}");

        using var anonymous = new HttpClient();
        await using var stream = await anonymous.GetStreamAsync(done.GetProperty("downloadUrl").GetString(), Ct);
        using var csv = new CsvReader(new StreamReader(stream), CultureInfo.InvariantCulture);
        var ids = new List<string>(Count + 1);
        string? quotedName = null;
        csv.Read();
        csv.ReadHeader();
        while (await csv.ReadAsync())
        {
            ids.Add(csv.GetField("eventId")!);
            if (ids[^1] == "evt_000011")
            {
                quotedName = csv.GetField("actorName");
            }
        }

        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal(Count + 1, done.GetProperty("rowCount").GetInt64());
        Assert.Equal(newestFirst, ids);
        Assert.Equal("Doe, \"J\" Jr.", quotedName);
        // Progress: several runs, each showing more rows written while the export was still running.
        var running = seen.Where(s => s.Status == "running").Select(s => s.Rows).ToList();
        Assert.True(running.Count >= 3, $"Expected the export to be seen running between runs; saw {string.Join(", ", seen)}");
        Assert.All(running, r => Assert.InRange(r, 1, Count));
        Assert.Equal(running.Order(), running);
        Assert.Equal(running.Count, running.Distinct().Count());
        Assert.Equal(("succeeded", Count + 1L), seen[^1]);
    }

    /// <summary>
    /// Seeds fast: each event's primary row only (what an unfiltered export reads) and the day
    /// registry, written straight to the tables in full transactions, several at once. Ingesting
    /// them would write five rows an event and take several minutes on Azurite. Returns the ids
    /// newest first, the trail's order.
    /// </summary>
    private static async Task<List<string>> SeedPrimaryRowsAsync(TrailTables store, string ws, DateTimeOffset now)
    {
        await store.EnsureCreatedAsync(Ct);
        var rows = new List<(string Id, ITableEntity Row)>(Count);
        for (var i = 0; i < Count; i++)
        {
            var json = new JsonObject
            {
                ["id"] = $"evt_{i:D6}",
                ["workspaceId"] = ws,
                ["type"] = i % 3 == 0 ? "Source Modified" : "Warehouses Modified",
                ["timestamp"] = now.AddSeconds(-13 * i).ToString("O"),
                ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 7}", ["name"] = i % 11 == 0 ? "Doe, \"J\" Jr." : "Ada" },
                ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 13}" },
            }.ToJsonString();
            var e = AuditEventReader.Read(RawEvent.FromText(json), i, null, now).Event!;
            rows.Add((e.Id, EventRows.Create(e, EventRows.ContentHash(e), now, IngestDoors.Http)[0]));
        }
        var days = rows.Select(r => r.Row.PartitionKey[(ws.Length + 1)..]).Distinct().ToList();
        await Task.WhenAll(days.Select(d => store.Days.ByWorkspace.UpsertEntityAsync(new TableEntity(ws, d), cancellationToken: Ct))
            .Concat(days.Select(d => store.Days.ByDay.UpsertEntityAsync(new TableEntity(d, ws), cancellationToken: Ct))));
        var transactions = rows.GroupBy(r => r.Row.PartitionKey).SelectMany(g => g.Chunk(100)).ToList();
        await Parallel.ForEachAsync(transactions, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (chunk, ct) =>
            await store.Events.Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r.Row)).ToList(), ct));
        return rows.Select(r => r.Id).ToList();
    }
}
