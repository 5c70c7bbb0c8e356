using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;

namespace AuditTrail.Tests.Ingestion;

/// <summary>
/// The largest invocation the host sends: 100 Event Hubs messages of 1 MB (the service's limit).
/// Each is too large to be an event, so each is dead-lettered exactly as it came and the valid
/// siblings in the same batch are stored; the invocation succeeds, so the partition moves on.
/// (Its peak memory is measured by <c>scripts/bench invocation</c>, not here.)
/// </summary>
public sealed class LargeInvocationTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hundred_messages_of_one_megabyte_are_dead_lettered_as_they_came_and_their_siblings_stored()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var valid = StoredTrail.Events(ws, "evt_small", 2);
        // A JSON event whose note makes it 1 MB, with characters the host's encoding escapes.
        var large = Enumerable.Range(0, 100).Select(i =>
        {
            var e = TestEvents.Event(ws, $"evt_large_{i:D3}");
            e["properties"] = new JsonObject { ["note"] = "\"quoted\" " + new string((char)('a' + (i % 26)), 1_000_000 - 200) };
            return e.ToJsonString();
        }).ToList();
        var bodies = new List<string> { valid[0].ToJsonString() };
        bodies.AddRange(large);
        bodies.Add(valid[1].ToJsonString());

        var response = await http.PostAsync("/IngestAuditEvents",
            new StringContent(TestEvents.EventHubInvocation(bodies), Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var invocation = await StoredTrail.JsonAsync(response);
        var answer = invocation.GetProperty("ReturnValue");
        Assert.Equal(102, answer.GetProperty("received").GetInt32());
        Assert.Equal(2, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(100, answer.GetProperty("rejectedCount").GetInt32());
        Assert.All(answer.GetProperty("rejected").EnumerateArray(), r => Assert.Equal("event_too_large", r.GetProperty("code").GetString()));
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, ["evt_small_0000", "evt_small_0001"]);
        var log = invocation.GetProperty("Logs")[0].GetString()!;
        var blob = log[(log.IndexOf("audit-deadletter/", StringComparison.Ordinal) + "audit-deadletter/".Length)..].TrimEnd(')', '.');
        var lines = (await clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer).ReadTextAsync(blob, Ct))!
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(large, lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("raw").GetString()));
    }
}

/// <summary>Raw input past what one JSON string may hold is kept in parts that join back to it exactly.</summary>
public sealed class DeadLetterPartsTests
{
    [Theory]
    [InlineData("ascii only, long enough to cut", 7)]
    [InlineData("漢字と絵文字🔑が混ざる", 5)]
    [InlineData("🔑🔑🔑", 4)]
    [InlineData("🔑x🔑", 2)]
    public void Parts_join_back_to_the_input_and_never_cut_a_character(string text, int max)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);

        var parts = AuditTrail.Core.Ingestion.DeadLetterStore.Parts(bytes, max).ToList();

        Assert.All(parts, p => Assert.True((p.Length <= max || p.Length <= 4) && System.Text.Unicode.Utf8.IsValid(p.Span)));
        Assert.Equal(text, string.Concat(parts.Select(p => System.Text.Encoding.UTF8.GetString(p.Span))));
    }
}
