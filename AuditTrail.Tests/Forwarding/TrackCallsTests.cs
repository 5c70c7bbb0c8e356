using System.Text;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Forwarding;

namespace AuditTrail.Tests.Forwarding;

public sealed class TrackCallsTests
{
    private static AuditEvent Event(string id, string? properties = null, string actorType = "user") => new(
        id, "ws_track", "Source Disabled", "Sources", true, new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero),
        new AuditActor(actorType, "usr_1", "Ada", null), new AuditResource("source", "src_1", "Website"), null,
        """[{"field":"enabled","before":true,"after":false}]""", properties);

    [Fact]
    public void A_call_over_32_KB_keeps_its_identity_and_marks_the_detail_truncated()
    {
        var big = JsonSerializer.Serialize(new { note = new string('x', 29_000), more = new string('y', 4_000) });

        var call = TrackCalls.Serialize(Event("evt_big", big));

        Assert.True(call.Length <= TrackCalls.MaxCallBytes);
        using var doc = JsonDocument.Parse(call);
        Assert.Equal("evt_big", doc.RootElement.GetProperty("messageId").GetString());
        Assert.True(doc.RootElement.GetProperty("properties").GetProperty("truncated").GetBoolean());
        Assert.False(doc.RootElement.GetProperty("properties").TryGetProperty("details", out _));
    }

    [Theory]
    [InlineData(EventSources.Hub)]
    [InlineData(EventSources.Api)]
    [InlineData(EventSources.Trail)]
    public void Forwarded_properties_say_where_the_event_came_from(string source)
    {
        using var doc = JsonDocument.Parse(TrackCalls.Serialize(Event("evt_source") with { Source = source }));

        Assert.Equal(source, doc.RootElement.GetProperty("properties").GetProperty("source").GetString());
    }

    [Fact]
    public void Long_ids_get_a_stable_hashed_message_id_under_100_characters()
    {
        var id = new string('a', 150);

        var first = TrackCalls.MessageId(id);

        Assert.True(first.Length < 100);
        Assert.Equal(first, TrackCalls.MessageId(id));
        Assert.NotEqual(first, TrackCalls.MessageId(id + "b"));
        Assert.Equal("evt_1", TrackCalls.MessageId("evt_1"));
    }

    [Fact]
    public void Batches_stay_within_500_KB_and_2500_calls_and_keep_every_call_in_order()
    {
        var calls = Enumerable.Range(0, 6000).Select(i => TrackCalls.Serialize(Event($"evt_{i}", i % 50 == 0 ? JsonSerializer.Serialize(new { pad = new string('p', 20_000) }) : null))).ToList();

        var batches = TrackCalls.Batches(calls).ToList();

        Assert.True(batches.Count >= 3);
        Assert.All(batches, b => Assert.True(b.Body.Length < 500_000 && b.Calls <= TrackCalls.MaxBatchCalls));
        var ids = batches.SelectMany(b => JsonDocument.Parse(b.Body).RootElement.GetProperty("batch").EnumerateArray().Select(c => c.GetProperty("messageId").GetString())).ToList();
        Assert.Equal(Enumerable.Range(0, 6000).Select(i => $"evt_{i}"), ids);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    public void A_batch_body_is_split_before_it_would_reach_500000_bytes(int over, int expectedBatches)
    {
        static byte[] Call(int i, int length)
        {
            var head = $"{{\"type\":\"track\",\"messageId\":\"evt_{i:D2}\",\"pad\":\"";
            return Encoding.UTF8.GetBytes(head + new string('x', length - head.Length - 2) + "\"}");
        }
        var envelope = TrackCalls.Batches([Call(0, 100)]).Single().Body.Length - 100;
        var calls = Enumerable.Range(0, 16).Select(i => Call(i, 30_000)).ToList();
        // With 17 calls, 16 commas: the last call's length makes the body 499,999 bytes, or 500,000 with one more.
        calls.Add(Call(16, 499_999 - envelope - (16 * 30_000) - 16 + over));

        var batches = TrackCalls.Batches(calls).ToList();

        Assert.Equal(expectedBatches, batches.Count);
        Assert.All(batches, b => Assert.True(b.Body.Length < 500_000, $"a body of {b.Body.Length} bytes"));
        if (expectedBatches == 1)
        {
            Assert.Equal(499_999, batches[0].Body.Length);
        }
        var ids = batches.SelectMany(b => JsonDocument.Parse(b.Body).RootElement.GetProperty("batch").EnumerateArray().Select(c => c.GetProperty("messageId").GetString())).ToList();
        Assert.Equal(Enumerable.Range(0, 17).Select(i => $"evt_{i:D2}"), ids);
    }

    [Fact]
    public void Forward_messages_for_a_thousand_long_ids_each_fit_a_queue_message()
    {
        var events = Enumerable.Range(0, 1000).Select(i => Event($"{i:D6}-{new string('k', 240)}")).ToList();

        var messages = ForwardingOutbox.Pack("ws_track", events).ToList();

        Assert.True(messages.Count > 1);
        Assert.All(messages, m => Assert.True(ForwardingOutbox.EncodeBase64(m.ToJson()).Length <= ForwardingOutbox.MaxMessageTextLength));
        Assert.Equal(1000, messages.Sum(m => m.EventCount));
        var roundTrip = ForwardMessage.TryParse(messages[0].ToJson(), out var error);
        Assert.Null(error);
        Assert.Equal(messages[0].EventCount, roundTrip!.EventCount);
    }

    [Theory]
    [InlineData("""{"v":2,"workspaceId":"ws","partitions":[]}""", "version")]
    [InlineData("""{"v":1,"partitions":[]}""", "workspace")]
    [InlineData("""{"v":1,"workspaceId":"ws","partitions":[{"pk":"","rows":["a"]}]}""", "incomplete")]
    [InlineData("""null""", "null")]
    [InlineData("""{"v":1,""", "not valid JSON")]
    public void Malformed_forward_messages_are_refused_with_a_reason(string text, string reason)
    {
        Assert.Null(ForwardMessage.TryParse(text, out var error));
        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Settings_and_updates_print_without_the_key()
    {
        var settings = new ForwardingSettings("ws", true, "wk_supersecretvalue", null, false, null, null, null);
        var update = new ForwardingSettingsUpdate(true, "wk_supersecretvalue", null, null);

        Assert.DoesNotContain("supersecret", settings.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("supersecret", update.ToString(), StringComparison.Ordinal);
        Assert.Equal("…alue", settings.WriteKeyHint);
        Assert.DoesNotContain("wk_supersecretvalue", Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new ForwardingSettingsView(true, true, settings.WriteKeyHint, new Uri("https://api.segment.io"), false, null, null, null))), StringComparison.Ordinal);
    }
}
