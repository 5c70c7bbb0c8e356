using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Ingestion;

/// <summary>Both doors, end to end against Azurite: what lands, what is refused, and that nothing is lost or doubled.</summary>
public sealed class IngestionTests(AzuriteFixture azurite) : IngestionTestBase(azurite)
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow.AddHours(-2);

    [Fact]
    public async Task Event_hub_invocation_lands_primary_and_index_rows_with_the_documented_keys()
    {
        var ws = TestEvents.NewWorkspaceId();
        var e1 = TestEvents.Event(ws, "evt_1", timestamp: At, actorId: "usr_7", resourceType: "warehouse", resourceId: "wh_1");
        var e2 = TestEvents.Event(ws, "evt_2", type: "User Invite Sent", timestamp: At.AddSeconds(1));

        var response = await InvokeEventHubAsync(TestEvents.EventHubInvocation([e1.ToJsonString(), e2.ToJsonString()]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await JsonAsync(response);
        Assert.Empty(body.GetProperty("Outputs").EnumerateObject());
        Assert.Contains("2 accepted", body.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(2, body.GetProperty("ReturnValue").GetProperty("accepted").GetInt32());

        var rows = await RowsAsync(ws, At);
        Assert.Equal(8, rows.Count);
        var rt = TrailKeys.ReverseTicks(At);
        string[] expected =
        [
            $"a_usr~5F7_{rt}_evt~5F1",
            $"e_{rt}_evt~5F1",
            $"r_warehouse:wh~5F1_{rt}_evt~5F1",
            $"t_Source~20Disabled_{rt}_evt~5F1",
        ];
        Assert.Equal(expected, rows.Where(r => r.GetString("EventId") == "evt_1").Select(r => r.RowKey).Order(StringComparer.Ordinal));
        Assert.All(rows.Where(r => r.GetString("EventId") == "evt_1"), r =>
        {
            Assert.Equal(ws + "_" + At.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture), r.PartitionKey);
            Assert.Equal("Source Disabled", r.GetString("Type"));
            Assert.Equal("Source", r.GetString("ProductArea"));
            Assert.Equal("usr_7", r.GetString("ActorId"));
            Assert.Equal(At.UtcDateTime, r.GetDateTimeOffset("EventTime")?.UtcDateTime);
            Assert.Equal("eventhub", r.GetString("Door"));
            Assert.Equal("[{\"field\":\"enabled\",\"before\":true,\"after\":false}]", r.GetString("Changes"));
        });
        Assert.Equal("Access Management", rows.First(r => r.GetString("EventId") == "evt_2").GetString("ProductArea"));
    }

    [Fact]
    public async Task Http_batch_lands_primary_and_index_rows()
    {
        var ws = TestEvents.NewWorkspaceId();

        var response = await PostEventsAsync(ws, TestEvents.Array(TestEvents.Event(ws, "evt_h", timestamp: At)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal((1, 1, 0, 0), (body.GetProperty("received").GetInt32(), body.GetProperty("accepted").GetInt32(), body.GetProperty("duplicates").GetInt32(), body.GetProperty("rejectedCount").GetInt32()));
        var rows = await RowsAsync(ws, At);
        Assert.Equal(["a_", "e_", "r_", "t_"], rows.Select(r => r.RowKey[..2]).Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.Equal("http", r.GetString("Door")));
    }

    [Fact]
    public async Task Same_batch_sent_three_times_leaves_exactly_one_copy()
    {
        var ws = TestEvents.NewWorkspaceId();
        var bodies = Enumerable.Range(0, 30).Select(i => TestEvents.Event(ws, $"evt_{i}", timestamp: At.AddSeconds(i)).ToJsonString()).ToList();
        var payload = TestEvents.EventHubInvocation(bodies);

        var first = await JsonAsync(await InvokeEventHubAsync(payload));
        var rowsAfterFirst = await RowsAsync(ws, At);
        var second = await JsonAsync(await InvokeEventHubAsync(payload));
        var third = await JsonAsync(await PostEventsAsync(ws, "[" + string.Join(',', bodies) + "]"));

        Assert.Equal(30, first.GetProperty("ReturnValue").GetProperty("accepted").GetInt32());
        Assert.Equal((0, 30), (second.GetProperty("ReturnValue").GetProperty("accepted").GetInt32(), second.GetProperty("ReturnValue").GetProperty("duplicates").GetInt32()));
        Assert.Equal((0, 30), (third.GetProperty("accepted").GetInt32(), third.GetProperty("duplicates").GetInt32()));
        var rows = await RowsAsync(ws, At);
        Assert.Equal(120, rows.Count);
        Assert.Equal(30, rows.Count(r => r.RowKey.StartsWith("e_", StringComparison.Ordinal)));
        // Replays rewrite nothing visible: same content, same receive time, same door.
        Assert.Equal(
            rowsAfterFirst.Select(r => (r.RowKey, r.GetString("ContentHash"), r.GetDateTimeOffset("ReceivedAt"), r.GetString("Door"))),
            rows.Select(r => (r.RowKey, r.GetString("ContentHash"), r.GetDateTimeOffset("ReceivedAt"), r.GetString("Door"))));
    }

    [Fact]
    public async Task Duplicate_within_one_batch_is_counted_once()
    {
        var ws = TestEvents.NewWorkspaceId();
        var e = TestEvents.Event(ws, "evt_twice", timestamp: At);

        var body = await JsonAsync(await PostEventsAsync(ws, TestEvents.Array(e, e)));

        Assert.Equal((1, 1), (body.GetProperty("accepted").GetInt32(), body.GetProperty("duplicates").GetInt32()));
        Assert.Equal(4, (await RowsAsync(ws, At)).Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Reused_id_with_different_content_is_dead_lettered_as_a_conflict_and_the_stored_event_is_unchanged(int dayShift)
    {
        var ws = TestEvents.NewWorkspaceId();
        var original = TestEvents.Event(ws, "evt_reused", timestamp: At);
        await PostEventsAsync(ws, TestEvents.Array(original));
        var before = await RowsAsync(ws, At);
        // Same id, other content; a shifted timestamp would even land in another partition.
        var forged = TestEvents.Event(ws, "evt_reused", type: "Source Deleted", timestamp: At.AddDays(dayShift).AddMinutes(-5), actorId: "usr_mallory");

        var response = await InvokeEventHubAsync(TestEvents.EventHubInvocation([forged.ToJsonString()]));

        var result = (await JsonAsync(response)).GetProperty("ReturnValue");
        Assert.Equal(0, result.GetProperty("accepted").GetInt32());
        var rejection = Assert.Single(result.GetProperty("rejected").EnumerateArray());
        Assert.Equal(RejectionCodes.Conflict, rejection.GetProperty("code").GetString());
        var after = await RowsAsync(ws, At);
        Assert.Equal(before.Select(r => (r.RowKey, r.GetString("Type"), r.GetString("ActorId"), r.GetString("ContentHash"))),
                     after.Select(r => (r.RowKey, r.GetString("Type"), r.GetString("ActorId"), r.GetString("ContentHash"))));
        if (dayShift != 0)
        {
            Assert.Empty(await RowsAsync(ws, At.AddDays(dayShift)));
        }
        var letter = Assert.Single(await DeadLettersAsync(ws));
        Assert.Equal(RejectionCodes.Conflict, letter.GetProperty("code").GetString());
        Assert.Equal("eventhub", letter.GetProperty("door").GetString());
        Assert.Equal(forged.ToJsonString(), letter.GetProperty("raw").GetString());
    }

    [Fact]
    public async Task Mixed_batch_stores_the_valid_events_and_dead_letters_each_invalid_one_with_its_reason()
    {
        var ws = TestEvents.NewWorkspaceId();
        var noActor = TestEvents.Event(ws, "evt_bad1", timestamp: At);
        noActor.Remove("actor");
        var badTime = TestEvents.Event(ws, "evt_bad2", timestamp: At);
        badTime["timestamp"] = "last tuesday";
        var bodies = new List<string>
        {
            TestEvents.Event(ws, "evt_ok1", timestamp: At).ToJsonString(),
            noActor.ToJsonString(),
            "{not json",
            badTime.ToJsonString(),
            TestEvents.Event(ws, "evt_ok2", timestamp: At).ToJsonString(),
        };

        var result = (await JsonAsync(await InvokeEventHubAsync(TestEvents.EventHubInvocation(bodies, partitionId: "3", firstSequenceNumber: 500)))).GetProperty("ReturnValue");

        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        Assert.Equal(
            [(1, "missing_field", "actor"), (2, "invalid_json", null), (3, "invalid_timestamp", "timestamp")],
            result.GetProperty("rejected").EnumerateArray().Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("code").GetString(), r.TryGetProperty("field", out var f) ? f.GetString() : null)));
        Assert.Equal(["evt_ok1", "evt_ok2"], (await RowsAsync(ws, At)).Where(r => r.RowKey.StartsWith("e_", StringComparison.Ordinal)).Select(r => r.GetString("EventId")).Order(StringComparer.Ordinal));

        var letters = await DeadLettersAsync(ws);
        Assert.Equal(["evt_bad1", "evt_bad2"], letters.Select(l => l.GetProperty("eventId").GetString()).Order(StringComparer.Ordinal));
        var bad1 = letters.Single(l => l.GetProperty("eventId").GetString() == "evt_bad1");
        Assert.Equal("missing_field", bad1.GetProperty("code").GetString());
        Assert.Contains("actor", bad1.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(noActor.ToJsonString(), bad1.GetProperty("raw").GetString());
        Assert.Equal("3", bad1.GetProperty("origin").GetProperty("partitionId").GetString());
        Assert.Equal("501", bad1.GetProperty("origin").GetProperty("sequenceNumber").GetString());
    }

    [Fact]
    public async Task Unparseable_event_text_is_dead_lettered_exactly_as_it_arrived()
    {
        var ws = TestEvents.NewWorkspaceId();
        var noise = "{not json for " + ws + "}";

        var result = (await JsonAsync(await InvokeEventHubAsync(TestEvents.EventHubInvocation([noise])))).GetProperty("ReturnValue");

        Assert.Equal("invalid_json", Assert.Single(result.GetProperty("rejected").EnumerateArray()).GetProperty("code").GetString());
        var container = Clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        var found = false;
        foreach (var name in await container.RecentBlobNamesAsync("", Ct))
        {
            var text = (await container.ReadTextAsync(name, Ct))!;
            found |= text.Contains(JsonSerializer.Serialize(noise), StringComparison.Ordinal);
        }
        Assert.True(found, "The unparseable body was not found in any dead-letter blob.");
    }

    [Fact]
    public async Task Identical_refused_bytes_from_two_workspaces_are_two_dead_letters_each_with_its_workspace()
    {
        var (first, second) = (TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId());
        const string Body = """[{"id":"evt_same","type":"Source Disabled"}]""";

        foreach (var ws in new[] { first, second })
        {
            var answer = await JsonAsync(await PostEventsAsync(ws, Body));
            Assert.Equal(1, answer.GetProperty("rejectedCount").GetInt32());
        }

        foreach (var ws in new[] { first, second })
        {
            var line = Assert.Single(await DeadLettersAsync(ws));
            Assert.Equal("evt_same", line.GetProperty("eventId").GetString());
        }
        var container = Clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        foreach (var ws in new[] { first, second })
        {
            Assert.Single(await container.RecentBlobNamesAsync($"{IngestDoors.Http}-{ws}-", Ct));
        }
    }

    [Fact]
    public async Task Events_on_both_sides_of_UTC_midnight_land_in_two_partitions_and_both_days_are_registered()
    {
        var ws = TestEvents.NewWorkspaceId();
        var midnight = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var before = midnight.AddTicks(-1);
        var after = midnight.AddMinutes(-1) > DateTimeOffset.UtcNow ? midnight.AddDays(-1) : midnight;
        if (after == midnight.AddDays(-1))
        {
            before = after.AddTicks(-1);
        }

        await PostEventsAsync(ws, TestEvents.Array(TestEvents.Event(ws, "evt_before", timestamp: before), TestEvents.Event(ws, "evt_after", timestamp: after)));

        Assert.Equal(["evt_before"], (await RowsAsync(ws, before)).Select(r => r.GetString("EventId")).Distinct());
        Assert.Equal(["evt_after"], (await RowsAsync(ws, after)).Select(r => r.GetString("EventId")).Distinct());
        var partitions = Clients.Tables.GetTableClient(TrailTables.PartitionsTable);
        Assert.NotNull(await partitions.FindAsync(before.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture), ws, Ct));
        Assert.NotNull(await partitions.FindAsync(after.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture), ws, Ct));
    }

    public static TheoryData<string> StorableHostileIds() =>
    [
        "a/b\\c",
        "#hash?query",
        "it's \"quoted\"",
        "x' or PartitionKey ne '",
        "ünïcødé ☃ 𝄞 日本",
        "under_score:colon~tilde%2Fpercent",
        new string('é', 256),
    ];

    [Theory]
    [MemberData(nameof(StorableHostileIds))]
    public async Task Hostile_ids_are_stored_and_read_back_exactly(string hostile)
    {
        var ws = TestEvents.NewWorkspaceId();
        var type = hostile[..Math.Min(hostile.Length, Core.Events.EventLimits.MaxTypeLength)];
        var e = TestEvents.Event(ws, hostile, timestamp: At, actorId: hostile, resourceType: type, resourceId: hostile);

        var response = await PostEventsAsync(ws, TestEvents.Array(e));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await JsonAsync(response)).GetProperty("accepted").GetInt32());
        var rows = await RowsAsync(ws, At);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Equal((hostile, hostile, type, hostile), (r.GetString("EventId"), r.GetString("ActorId"), r.GetString("ResourceType"), r.GetString("ResourceId"))));
        // Replaying finds the stored event by its hostile id.
        Assert.Equal(1, (await JsonAsync(await PostEventsAsync(ws, TestEvents.Array(e)))).GetProperty("duplicates").GetInt32());
    }

    public static TheoryData<string, string> RefusedHostileIds() => new()
    {
        { "tab\tand\u0001control", "control_characters" },
        { "del\u007f", "control_characters" },
        { new string('x', 2048), "too_long" },
        { "", "empty_field" },
    };

    [Theory]
    [MemberData(nameof(RefusedHostileIds))]
    public async Task Hostile_ids_that_cannot_be_kept_exactly_are_refused_with_a_reason_never_a_500(string hostile, string code)
    {
        var ws = TestEvents.NewWorkspaceId();
        var e = TestEvents.Event(ws, hostile, timestamp: At);

        var response = await PostEventsAsync(ws, TestEvents.Array(e, TestEvents.Event(ws, "evt_sibling", timestamp: At)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal(code, Assert.Single(body.GetProperty("rejected").EnumerateArray()).GetProperty("code").GetString());
        Assert.Equal(4, (await RowsAsync(ws, At)).Count);
    }

    [Fact]
    public async Task Uncataloged_type_is_stored_and_reported()
    {
        var ws = TestEvents.NewWorkspaceId();

        var body = await JsonAsync(await PostEventsAsync(ws, TestEvents.Array(TestEvents.Event(ws, "evt_new", type: "Warehouse Exploded", timestamp: At))));

        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal(["Warehouse Exploded"], body.GetProperty("uncatalogedTypes").EnumerateArray().Select(t => t.GetString()));
        Assert.All(await RowsAsync(ws, At), r => Assert.Equal("Uncataloged", r.GetString("ProductArea")));
    }

    [Fact]
    public async Task Replay_after_a_crash_between_claim_and_rows_completes_the_event()
    {
        var ws = TestEvents.NewWorkspaceId();
        var e = TestEvents.Event(ws, "evt_crash", timestamp: At);
        await PostEventsAsync(ws, TestEvents.Array(e));
        // Simulate the crash: the id claim exists, the rows never made it.
        var events = Clients.Tables.GetTableClient(TrailTables.EventsTable);
        foreach (var row in await RowsAsync(ws, At))
        {
            await events.DeleteEntityAsync(row.PartitionKey, row.RowKey, cancellationToken: Ct);
        }

        var body = await JsonAsync(await InvokeEventHubAsync(TestEvents.EventHubInvocation([e.ToJsonString()])));

        Assert.Equal(1, body.GetProperty("ReturnValue").GetProperty("duplicates").GetInt32());
        var rows = await RowsAsync(ws, At);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Equal("http", r.GetString("Door"))); // the first door, as first written
    }

    [Fact]
    public async Task Large_batch_spanning_workspaces_and_days_is_split_into_valid_transactions()
    {
        var ws1 = TestEvents.NewWorkspaceId();
        var ws2 = TestEvents.NewWorkspaceId();
        var bodies = Enumerable.Range(0, 240).Select(i =>
        {
            var e = TestEvents.Event(i % 2 == 0 ? ws1 : ws2, $"evt_{i}", timestamp: At.AddDays(-(i % 3)).AddSeconds(i));
            e["properties"] = new JsonObject { ["padding"] = new string('p', 8000) };
            return e.ToJsonString();
        }).ToList();

        var result = (await JsonAsync(await InvokeEventHubAsync(TestEvents.EventHubInvocation(bodies)))).GetProperty("ReturnValue");

        Assert.Equal(240, result.GetProperty("accepted").GetInt32());
        var total = 0;
        foreach (var ws in new[] { ws1, ws2 })
        {
            for (var d = 0; d < 3; d++)
            {
                total += (await RowsAsync(ws, At.AddDays(-d))).Count;
            }
        }
        Assert.Equal(960, total);
    }
}
