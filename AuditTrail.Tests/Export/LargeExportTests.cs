using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;
using AuditTrail.Tests.Infrastructure;
using CsvHelper;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

/// <summary>The whole of a large trail: 100,000 events over 29 days, exported and compared row for row with the query API.</summary>
public sealed class LargeExportTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Export_of_100k_events_holds_exactly_the_query_API_rows_in_order_and_parses_back()
    {
        const int Count = 100_000;
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        http.Timeout = TimeSpan.FromMinutes(10); // a 100k-row export takes longer than the 100 s default when the suite runs in parallel
        var ws = TestEvents.NewWorkspaceId();
        var ingestion = app.Services.GetRequiredService<IngestionService>();
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var seeding = Stopwatch.StartNew();
        for (var offset = 0; offset < Count; offset += 1000)
        {
            var batch = Enumerable.Range(offset, 1000).Select(i => RawEvent.FromText(new JsonObject
            {
                ["id"] = $"evt_{i:D6}",
                ["workspaceId"] = ws,
                ["type"] = i % 3 == 0 ? "Source Modified" : "Warehouses Modified",
                ["timestamp"] = now.AddSeconds(-25 * i).ToString("O"),
                ["actor"] = new JsonObject { ["type"] = "user", ["id"] = $"usr_{i % 7}", ["name"] = i % 11 == 0 ? "Doe, \"J\" Jr." : "Ada" },
                ["resource"] = new JsonObject { ["type"] = "source", ["id"] = $"src_{i % 13}" },
            }.ToJsonString())).ToList();
            Assert.Equal(1000, (await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), Ct)).Accepted);
        }
        TestContext.Current.SendDiagnosticMessage($"seeded {Count} events in {seeding.Elapsed.TotalSeconds:F0} s");
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "large export", Ct)).Token;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var expected = new List<string>(Count + 1);
        string? next = $"/api/workspaces/{ws}/audit-events?limit=1000";
        while (next is not null)
        {
            var page = await http.GetFromJsonAsync<JsonElement>(next, Ct);
            expected.AddRange(page.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
            next = page.TryGetProperty("nextLink", out var link) ? link.GetString()! : null;
        }

        var exporting = Stopwatch.StartNew();
        var created = await (await http.PostAsync($"/api/workspaces/{ws}/exports", null, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        TestContext.Current.SendDiagnosticMessage($"exported in {exporting.Elapsed.TotalSeconds:F0} s");
        using var anonymous = new HttpClient();
        await using var stream = await anonymous.GetStreamAsync(created.GetProperty("downloadUrl").GetString(), Ct);
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

        Assert.Equal(Count + 1, expected.Count); // every event, plus the token's own "Access Token Created"
        Assert.Equal(expected, ids);
        Assert.Equal(ids.Count, created.GetProperty("rowCount").GetInt64());
        Assert.Equal("Doe, \"J\" Jr.", quotedName);
    }
}
