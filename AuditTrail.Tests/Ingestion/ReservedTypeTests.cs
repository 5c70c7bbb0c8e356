using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Ingestion;

/// <summary>
/// The trail's own records cannot be forged: both doors refuse, event by event, every type of the
/// catalog's <c>Audit Trail</c> area (<c>reserved_type</c>) and every id in the trail's namespace
/// (<c>reserved_id</c>), and store the valid events beside them.
/// </summary>
public sealed class ReservedTypeTests(AzuriteFixture azurite) : IngestionTestBase(azurite)
{
    /// <summary>The attack as reported: a revocation "by" the token admin, dated 30 days back.</summary>
    private static JsonObject ForgedRevocation(string ws, string tokenId, string type = "Access Token Revoked")
    {
        var e = TestEvents.Event(ws, $"access-token-revoked-{tokenId}", type, DateTimeOffset.UtcNow.AddDays(-30), resourceType: "access-token", resourceId: tokenId);
        e["actor"] = new JsonObject { ["type"] = "system", ["id"] = "token-admin" };
        return e;
    }

    private static IEnumerable<(int Index, string? Code)> Rejections(JsonElement body) =>
        body.GetProperty("rejected").EnumerateArray().Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("code").GetString()));

    [Fact]
    public void Audit_Digest_Sealed_is_cataloged_in_the_Audit_Trail_area_and_every_type_there_is_reserved()
    {
        var area = EventCatalog.FindArea(EventCatalog.TrailArea)!;

        Assert.Contains("Audit Digest Sealed", area.EventTypes);
        Assert.All(area.EventTypes, t => Assert.True(EventCatalog.IsReserved(t.ToUpperInvariant()), t));
        Assert.False(EventCatalog.IsReserved("Source Disabled"));
        Assert.False(EventCatalog.IsReserved("Audit Trail Something New"));
    }

    [Fact]
    public async Task Http_door_refuses_each_reserved_type_and_trail_id_and_stores_the_valid_siblings()
    {
        var ws = TestEvents.NewWorkspaceId();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        var reserved = EventCatalog.FindArea(EventCatalog.TrailArea)!.EventTypes;
        var before = TestEvents.Event(ws, "evt_before", timestamp: at);
        var after = TestEvents.Event(ws, "evt_after", timestamp: at);
        // Any capitalisation of a reserved type, and of the trail's id prefix.
        var forged = reserved.Select((t, i) => (JsonNode)TestEvents.Event(ws, $"forged_{i}", i % 2 == 0 ? t : t.ToLowerInvariant(), at)).ToList();
        var trailId = TestEvents.Event(ws, "~TRAIL-access-token-revoked-0123456789abcdef-00", timestamp: at);

        using var response = await PostEventsAsync(ws, TestEvents.Array([before, ForgedRevocation(ws, "0123456789abcdef"), .. forged, trailId, after]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        var expected = new[] { (1, RejectionCodes.ReservedType) }
            .Concat(forged.Select((_, i) => (i + 2, RejectionCodes.ReservedType)))
            .Append((forged.Count + 2, RejectionCodes.ReservedId));
        Assert.Equal(expected.Select(x => (x.Item1, (string?)x.Item2)), Rejections(body));
        Assert.Equal(["evt_after", "evt_before"], (await RowsAsync(ws, at))
            .Where(r => r.RowKey.StartsWith(TrailKeys.PrimaryPrefix, StringComparison.Ordinal)).Select(r => r.GetString("EventId")).Order(StringComparer.Ordinal));
        var letters = await DeadLettersAsync(ws);
        Assert.Equal(forged.Count + 1, letters.Count(l => l.GetProperty("code").GetString() == RejectionCodes.ReservedType && l.GetProperty("door").GetString() == "http"));
        Assert.Contains(letters, l => l.GetProperty("code").GetString() == RejectionCodes.ReservedId);
    }

    [Fact]
    public async Task Event_hub_door_dead_letters_reserved_types_with_their_reason_and_stores_the_valid_siblings()
    {
        var ws = TestEvents.NewWorkspaceId();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        var valid = TestEvents.Event(ws, "evt_hub_valid", timestamp: at);
        var digest = TestEvents.Event(ws, "audit-digest-0", "Audit Digest Sealed", at);
        var trailId = TestEvents.Event(ws, "~trail-audit-digest-0-feed", timestamp: at);

        using var response = await InvokeEventHubAsync(TestEvents.EventHubInvocation(
            [ForgedRevocation(ws, "fedcba9876543210").ToJsonString(), valid.ToJsonString(), digest.ToJsonString(), trailId.ToJsonString()]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["evt_hub_valid"], (await RowsAsync(ws, at))
            .Where(r => r.RowKey.StartsWith(TrailKeys.PrimaryPrefix, StringComparison.Ordinal)).Select(r => r.GetString("EventId")));
        var letters = await DeadLettersAsync(ws);
        Assert.All(letters, l => Assert.Equal("eventhub", l.GetProperty("door").GetString()));
        Assert.Equal(
            [("access-token-revoked-fedcba9876543210", RejectionCodes.ReservedType), ("audit-digest-0", RejectionCodes.ReservedType), ("~trail-audit-digest-0-feed", RejectionCodes.ReservedId)],
            letters.Select(l => (l.GetProperty("eventId").GetString()!, l.GetProperty("code").GetString()!)).OrderBy(l => l.Item1, StringComparer.Ordinal));
        Assert.All(letters.Where(l => l.GetProperty("code").GetString() == RejectionCodes.ReservedType),
            l => Assert.Contains("reserved", l.GetProperty("reason").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_producer_cannot_set_source()
    {
        var ws = TestEvents.NewWorkspaceId();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        var e = TestEvents.Event(ws, "evt_claims_trail", timestamp: at);
        e["source"] = EventSources.Trail;

        using var response = await PostEventsAsync(ws, TestEvents.Array(e));

        var body = await JsonAsync(response);
        Assert.Equal(0, body.GetProperty("accepted").GetInt32());
        var rejection = Assert.Single(body.GetProperty("rejected").EnumerateArray());
        Assert.Equal((RejectionCodes.UnknownField, "source"), (rejection.GetProperty("code").GetString(), rejection.GetProperty("field").GetString()));
        Assert.Empty(await RowsAsync(ws, at));
    }
}
