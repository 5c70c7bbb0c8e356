using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Ingestion;

/// <summary>
/// The stored form did not move with the storage clients: rows written by the hand-written storage
/// layer (its own request bodies) read back as the same events and replay as duplicates, and new
/// rows carry exactly that layout's properties and types.
/// </summary>
public sealed class StoredFormCompatibilityTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // The events and content hashes are StoredFormTests' golden ones, pinned for workspace
    // ws_golden, so this test alone uses that workspace. Its writes are upserts: a rerun against
    // the same storage finds what it wrote.
    private const string Workspace = "ws_golden";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset ReceivedBefore = new DateTimeOffset(2026, 11, 23, 10, 15, 0, TimeSpan.Zero).AddTicks(5_000_000);

    private const string Golden1 = """{"id":"evt_golden_1","workspaceId":"ws_golden","type":"source modified","timestamp":"2026-11-23T09:30:00.1234567+01:00","actor":{"type":"user","id":"usr_1","name":"Ada Lovelace","email":"ada@example.com"},"resource":{"type":"source","id":"src_1","name":"Website / prod"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0","requestId":"req_1"},"changes":[{"field":"enabled","before":true,"after":false},{"field":"limit","before":1.0,"after":1e5}],"properties":{"reason":"caf\u00e9 \"quoted\" <tag> & \ud83d\ude00","nested":{"a":[1,null,"x"]},"a":1,"a":2}}""";
    private const string Golden2 = """{ "properties" : { "z" : "\u0041\u00DF" } , "resource" : {"id":"r","type":"Stra\u00dfe"}, "actor":{"id":"svc","type":"system"}, "timestamp":"2026-11-22T23:59:59Z", "type":"Stra\u00dfe ge\u00e4ndert \u0130", "workspaceId":"ws_golden", "id":"evt_golden_2" }""";

    /// <summary>
    /// What the hand-written layer sent for the two golden events' rows, claims and registry rows:
    /// the JSON bodies its serializer wrote (captured from commit 274d3f4, received at 10:15:00.5
    /// through the Event Hubs door), kept as test data.
    /// </summary>
    private static List<(string Table, string PartitionKey, string RowKey, string Body)> OldLayout() =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Ingestion", "OldLayoutRows.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(row => (row.GetProperty("table").GetString()!, row.GetProperty("partitionKey").GetString()!, row.GetProperty("rowKey").GetString()!, row.GetProperty("body").GetString()!))
            .ToList();

    /// <summary>
    /// Stores a row with the old layer's own request: an Insert Or Replace of its JSON body, as it
    /// sent it. Authorized with a table SAS the SDK signs, so nothing here signs a request by hand.
    /// </summary>
    private static async Task PutAsOldLayerDidAsync(TableClient table, string partitionKey, string rowKey, string body)
    {
        static string Key(string key) => Uri.EscapeDataString(key.Replace("'", "''", StringComparison.Ordinal));
        var sas = table.GenerateSasUri(Azure.Data.Tables.Sas.TableSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
        using var request = new HttpRequestMessage(HttpMethod.Put, $"{table.Uri.GetLeftPart(UriPartial.Path)}(PartitionKey='{Key(partitionKey)}',RowKey='{Key(rowKey)}'){sas.Query}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Content.Headers.ContentType!.CharSet = null;
        request.Headers.TryAddWithoutValidation("Accept", "application/json;odata=minimalmetadata");
        request.Headers.TryAddWithoutValidation("DataServiceVersion", "3.0;NetFx");
        using var http = new HttpClient();
        using var response = await http.SendAsync(request, Ct);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}");
    }

    [Fact]
    public async Task Events_stored_by_the_hand_written_layer_read_back_identically_and_replay_as_duplicates()
    {
        using var clients = azurite.CreateClients();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, new TestClock(Now));
        using var http = app.CreateClient();
        await app.Services.GetRequiredService<TrailTables>().EnsureCreatedAsync(Ct);
        var old = OldLayout();
        foreach (var (table, pk, rk, body) in old)
        {
            await PutAsOldLayerDidAsync(clients.Tables.GetTableClient(table), pk, rk, body);
        }
        var before = new List<TableEntity>();
        foreach (var (table, pk, rk, _) in old)
        {
            before.Add((await clients.Tables.GetTableClient(table).FindAsync(pk, rk, Ct))!);
        }
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(Workspace, Roles.Owner, null, "stored form", Ct)).Token;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var viaHttp = await http.PostAsync($"/api/workspaces/{Workspace}/audit-events", new StringContent($"[{Golden1},{Golden2}]", Encoding.UTF8, "application/json"), Ct);
        var viaHost = await http.PostAsync("/IngestAuditEvents", new StringContent(TestEvents.EventHubInvocation([Golden1, Golden2]), Encoding.UTF8, "application/json"), Ct);

        var answer = await viaHttp.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal((0, 2, 0), (answer.GetProperty("accepted").GetInt32(), answer.GetProperty("duplicates").GetInt32(), answer.GetProperty("rejectedCount").GetInt32()));
        Assert.Equal(2, (await viaHost.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("ReturnValue").GetProperty("duplicates").GetInt32());
        // The old layer's types as the SDK reads them: its DateTimes, booleans and strings.
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 8, 30, 0, TimeSpan.Zero).AddTicks(1_234_567), before[0].GetDateTimeOffset("EventTime"));
        Assert.Equal(ReceivedBefore, before[0].GetDateTimeOffset("ReceivedAt"));
        Assert.Equal(true, before[0].GetBoolean("Cataloged"));
        // The replays rewrote the rows (they repair a crash between claim and rows): with exactly what was there.
        for (var i = 0; i < old.Count; i++)
        {
            var (table, pk, rk, _) = old[i];
            var now = await clients.Tables.GetTableClient(table).FindAsync(pk, rk, Ct);
            Assert.NotNull(now);
            var after = Properties(now);
            if (table == TrailTables.EventIdsTable)
            {
                // Stored before the integrity ledger: the replay records it there and marks its claim so.
                Assert.True(after.Remove("Ledger"));
            }
            Assert.Equal(Properties(before[i]), after);
        }
        var page = await http.GetFromJsonAsync<JsonElement>($"/api/workspaces/{Workspace}/audit-events?actorId=usr_1", Ct);
        var e = Assert.Single(page.GetProperty("value").EnumerateArray());
        Assert.Equal(("evt_golden_1", "Source Modified", "Source", "2026-11-23T08:30:00.1234567Z"),
            (e.GetProperty("id").GetString(), e.GetProperty("type").GetString(), e.GetProperty("productArea").GetString(), e.GetProperty("timestamp").GetString()));
        Assert.Equal(("Ada Lovelace", "Website / prod", "req_1"),
            (e.GetProperty("actor").GetProperty("name").GetString(), e.GetProperty("resource").GetProperty("name").GetString(), e.GetProperty("context").GetProperty("requestId").GetString()));
        Assert.Equal("café \"quoted\" <tag> & 😀", e.GetProperty("properties").GetProperty("reason").GetString());
        Assert.Equal(1e5, e.GetProperty("changes")[1].GetProperty("after").GetDouble());
    }

    [Fact]
    public async Task New_rows_carry_the_layouts_exact_properties_and_types()
    {
        using var clients = azurite.CreateClients();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var owner = await Reliability.StoredTrail.IngestClientAsync(app, ws);
        var sent = TestEvents.Event(ws, "evt_layout");
        sent["context"] = new System.Text.Json.Nodes.JsonObject { ["ip"] = "203.0.113.7", ["userAgent"] = "ua", ["requestId"] = "req" };
        sent["changes"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"field":"f","before":1,"after":2}]""");
        sent["properties"] = new System.Text.Json.Nodes.JsonObject { ["k"] = "v" };
        await Reliability.StoredTrail.PostAsync(owner, ws, [sent]);

        var claim = await clients.Tables.GetTableClient(TrailTables.EventIdsTable).FindAsync(ws, "evt~5Flayout", Ct);
        var rows = (await clients.Tables.GetTableClient(TrailTables.EventsTable).PartitionAsync(TrailKeys.PartitionKey(ws, DateTimeOffset.UtcNow.AddMinutes(-1)), Ct))
            .Where(r => r.GetString("EventId") == "evt_layout").ToList();

        Assert.Equal(4, rows.Count);
        string[] strings = ["EventId", "WorkspaceId", "Type", "ProductArea", "ActorType", "ActorId", "ActorName", "ActorEmail", "ResourceType", "ResourceId", "ResourceName",
            "Ip", "UserAgent", "RequestId", "Changes", "Properties", "ContentHash", "Door"];
        foreach (var row in rows)
        {
            Assert.Equal(strings.Concat(["Cataloged", "EventTime", "ReceivedAt"]).Order(StringComparer.Ordinal), Properties(row).Keys.Order(StringComparer.Ordinal));
            Assert.All(strings, name => Assert.IsType<string>(row[name]));
            Assert.IsType<bool>(row["Cataloged"]);
            Assert.IsType<DateTimeOffset>(row["EventTime"]);
            Assert.IsType<DateTimeOffset>(row["ReceivedAt"]);
        }
        Assert.NotNull(claim);
        Assert.Equal(["ClaimToken", "ContentHash", "Door", "EventId", "EventPartition", "EventRow", "Ledger", "ReceivedAt"], Properties(claim).Keys.Order(StringComparer.Ordinal));
        Assert.IsType<DateTimeOffset>(claim["ReceivedAt"]);
    }

    /// <summary>A row's stored properties, without the service's own (Timestamp, ETag) and the keys.</summary>
    private static Dictionary<string, object> Properties(TableEntity row) =>
        row.Where(p => p.Key is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
}
