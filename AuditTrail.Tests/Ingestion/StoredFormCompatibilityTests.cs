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
/// The stored form did not move with the storage clients: rows written with the layout the
/// hand-written storage layer used read back as the same events and replay as duplicates, and new
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

    /// <summary>What the hand-written layer stored for the two golden events, written out as it wrote them: names, EDM types, keys.</summary>
    private static IEnumerable<(string Table, TableEntity Row)> OldLayout()
    {
        var received = ("ReceivedAt", (object?)ReceivedBefore);
        var door = ("Door", (object?)"eventhub");
        (string, object?)[] first =
        [
            ("EventId", "evt_golden_1"), ("WorkspaceId", Workspace), ("Type", "Source Modified"), ("ProductArea", "Source"), ("Cataloged", true),
            ("EventTime", new DateTimeOffset(2026, 11, 23, 8, 30, 0, TimeSpan.Zero).AddTicks(1_234_567)),
            ("ActorType", "user"), ("ActorId", "usr_1"), ("ActorName", "Ada Lovelace"), ("ActorEmail", "ada@example.com"),
            ("ResourceType", "source"), ("ResourceId", "src_1"), ("ResourceName", "Website / prod"),
            ("Ip", "203.0.113.7"), ("UserAgent", "Mozilla/5.0"), ("RequestId", "req_1"),
            ("Changes", """[{"field":"enabled","before":true,"after":false},{"field":"limit","before":1.0,"after":1e5}]"""),
            ("Properties", """{"reason":"café \"quoted\" <tag> & \uD83D\uDE00","nested":{"a":[1,null,"x"]},"a":1,"a":2}"""),
            ("ContentHash", "67C28E5BAB5AA4154212F4C5221C098EBF0E593B05A4DBBE8E4F28B282A26C56"), received, door,
        ];
        (string, object?)[] second =
        [
            ("EventId", "evt_golden_2"), ("WorkspaceId", Workspace), ("Type", "Straße geändert İ"), ("ProductArea", "Uncataloged"), ("Cataloged", false),
            ("EventTime", new DateTimeOffset(2026, 11, 22, 23, 59, 59, TimeSpan.Zero)), ("ActorType", "system"), ("ActorId", "svc"),
            ("ResourceType", "Straße"), ("ResourceId", "r"), ("Properties", """{"z":"Aß"}"""),
            ("ContentHash", "385DD4286DD3A6004FCE675F36F49A8C4DA08B1F9C3AE5303E330D08BFA81127"), received, door,
        ];
        foreach (var (pk, keys, properties, id) in new[]
        {
            ("ws_golden_20261123", new[] { "e_", "a_usr~5F1_", "t_Source~20Modified_", "r_source:src~5F1_" }.Select(p => p + "2516068781998765432_evt~5Fgolden~5F1"), first, "evt_golden_1"),
            ("ws_golden_20261122", new[] { "e_", "a_svc_", "t_Stra~C3~9Fe~20ge~C3~A4ndert~20~C4~B0_", "r_Stra~C3~9Fe:r_" }.Select(p => p + "2516069088009999999_evt~5Fgolden~5F2"), second, "evt_golden_2"),
        })
        {
            foreach (var rowKey in keys)
            {
                yield return (TrailStore.EventsTable, TableRows.Create(pk, rowKey, properties));
            }
            yield return (TrailStore.EventIdsTable, TableRows.Create(Workspace, id.Replace("_", "~5F", StringComparison.Ordinal),
                ("EventId", id), properties.Single(p => p.Item1 == "ContentHash"), ("EventPartition", pk), ("EventRow", keys.First()), received, door,
                ("ClaimToken", "0123456789abcdef0123456789abcdef")));
            yield return (TrailStore.PartitionsTable, new TableEntity(pk[^8..], Workspace));
            yield return (TrailStore.WorkspaceDaysTable, new TableEntity(Workspace, pk[^8..]));
        }
    }

    [Fact]
    public async Task Events_stored_with_the_old_layout_read_back_identically_and_replay_as_duplicates()
    {
        using var clients = azurite.CreateClients();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, new TestClock(Now));
        using var http = app.CreateClient();
        await app.Services.GetRequiredService<TrailStore>().EnsureCreatedAsync(Ct);
        var old = OldLayout().ToList();
        foreach (var (table, row) in old)
        {
            await clients.Tables.GetTableClient(table).UpsertEntityAsync(row, TableUpdateMode.Replace, Ct);
        }
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(Workspace, Roles.Owner, null, "stored form", Ct)).Token;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var viaHttp = await http.PostAsync($"/api/workspaces/{Workspace}/audit-events", new StringContent($"[{Golden1},{Golden2}]", Encoding.UTF8, "application/json"), Ct);
        var viaHost = await http.PostAsync("/IngestAuditEvents", new StringContent(TestEvents.EventHubInvocation([Golden1, Golden2]), Encoding.UTF8, "application/json"), Ct);

        var answer = await viaHttp.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal((0, 2, 0), (answer.GetProperty("accepted").GetInt32(), answer.GetProperty("duplicates").GetInt32(), answer.GetProperty("rejectedCount").GetInt32()));
        Assert.Equal(2, (await viaHost.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("ReturnValue").GetProperty("duplicates").GetInt32());
        // The replays rewrote the rows (they repair a crash between claim and rows): with exactly what was there.
        foreach (var (table, row) in old)
        {
            var now = await clients.Tables.GetTableClient(table).FindAsync(row.PartitionKey, row.RowKey, Ct);
            Assert.NotNull(now);
            Assert.Equal(Properties(row), Properties(now));
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

        var claim = await clients.Tables.GetTableClient(TrailStore.EventIdsTable).FindAsync(ws, "evt~5Flayout", Ct);
        var rows = (await clients.Tables.GetTableClient(TrailStore.EventsTable).PartitionAsync(TrailKeys.PartitionKey(ws, DateTimeOffset.UtcNow.AddMinutes(-1)), Ct))
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
        Assert.Equal(["ClaimToken", "ContentHash", "Door", "EventId", "EventPartition", "EventRow", "ReceivedAt"], Properties(claim).Keys.Order(StringComparer.Ordinal));
        Assert.IsType<DateTimeOffset>(claim["ReceivedAt"]);
    }

    /// <summary>A row's stored properties, without the service's own (Timestamp, ETag) and the keys.</summary>
    private static Dictionary<string, object> Properties(TableEntity row) =>
        row.Where(p => p.Key is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
}
