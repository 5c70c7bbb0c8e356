using System.Text;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;

namespace AuditTrail.Tests.Events;

/// <summary>
/// What the trail stores and hashes must not move when the code that makes it does: a changed
/// content hash turns every replay of an event already stored into a conflict.
/// </summary>
public sealed class StoredFormTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    // Hashes taken with the JsonDocument reader and the record-copying canonical writer (before
    // commit "Read events with Utf8JsonReader"), so the rewrite is held to what is already stored.
    [Theory]
    [InlineData("""{"id":"evt_golden_1","workspaceId":"ws_golden","type":"source modified","timestamp":"2026-11-23T09:30:00.1234567+01:00","actor":{"type":"user","id":"usr_1","name":"Ada Lovelace","email":"ada@example.com"},"resource":{"type":"source","id":"src_1","name":"Website / prod"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0","requestId":"req_1"},"changes":[{"field":"enabled","before":true,"after":false},{"field":"limit","before":1.0,"after":1e5}],"properties":{"reason":"caf\u00e9 \"quoted\" <tag> & \ud83d\ude00","nested":{"a":[1,null,"x"]},"a":1,"a":2}}""",
        "67C28E5BAB5AA4154212F4C5221C098EBF0E593B05A4DBBE8E4F28B282A26C56",
        """{"reason":"café \"quoted\" <tag> & \uD83D\uDE00","nested":{"a":[1,null,"x"]},"a":1,"a":2}""")]
    [InlineData("""{ "properties" : { "z" : "\u0041\u00DF" } , "resource" : {"id":"r","type":"Stra\u00dfe"}, "actor":{"id":"svc","type":"system"}, "timestamp":"2026-11-22T23:59:59Z", "type":"Stra\u00dfe ge\u00e4ndert \u0130", "workspaceId":"ws_golden", "id":"evt_golden_2" }""",
        "385DD4286DD3A6004FCE675F36F49A8C4DA08B1F9C3AE5303E330D08BFA81127",
        """{"z":"Aß"}""")]
    public void Content_hash_and_stored_properties_match_what_earlier_versions_stored(string text, string hash, string properties)
    {
        var e = AuditEventReader.Read(RawEvent.FromText(text), 0, null, Now).Event!;

        Assert.Equal(hash, EventRows.ContentHash(e));
        Assert.Equal(properties, e.Properties);
    }

    [Fact]
    public void Compacted_json_is_byte_for_byte_what_JsonElement_writes()
    {
        var random = new Random(20261123);
        for (var i = 0; i < 3000; i++)
        {
            var json = RandomValue(random, depth: 0);
            Assert.Equal(WrittenByJsonElement(json), CompactJson.Write(Encoding.UTF8.GetBytes(json)));
        }
    }

    [Theory]
    [InlineData("{\"a\":1,\"b\":[true,false,null,-1.5e3],\"c\":{\"d\":\"x y\"}}")]
    [InlineData("[\"<script>&'+`~\",{\" spaced name \":\"\"}]")]
    [InlineData("{\"a\": 1}")]
    [InlineData("{\"a\":\"tab\\there\"}")]
    public void Compact_printable_ASCII_is_kept_as_sent_and_anything_else_is_written_again(string json)
    {
        // Every printable ASCII character but '"' and '\\', in a name and in a value.
        var ascii = new string(Enumerable.Range(0x20, 0x5F).Select(c => (char)c).Where(c => c is not ('"' or '\\')).ToArray());
        foreach (var value in new[] { json, $"{{\"{ascii}\":\"{ascii}\"}}" })
        {
            Assert.Equal(WrittenByJsonElement(value), CompactJson.Write(Encoding.UTF8.GetBytes(value)));
        }
    }

    [Fact]
    public void Compacting_a_lone_surrogate_escape_throws_as_JsonElement_does()
    {
        var json = "{\"a\":\"\\ud800\"}"u8.ToArray();
        using var document = JsonDocument.Parse(json);

        Assert.Throws<InvalidOperationException>(() => document.RootElement.WriteTo(new Utf8JsonWriter(Stream.Null)));
        Assert.Throws<InvalidOperationException>(() => CompactJson.Write(json));
    }

    /// <summary>What the old reader stored: the parsed value written again with the same writer options.</summary>
    private static string WrittenByJsonElement(string json)
    {
        using var document = JsonDocument.Parse(json);
        var written = new MemoryStream();
        using (var writer = new Utf8JsonWriter(written, JsonDefaults.Relaxed))
        {
            document.RootElement.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(written.ToArray());
    }

    /// <summary>Whitespace, escapes of every kind, non-ASCII, surrogate pairs, odd numbers, nesting, duplicate names.</summary>
    private static string RandomValue(Random random, int depth)
    {
        string Space() => random.Next(4) == 0 ? new string(" \t\r\n"[random.Next(4)], random.Next(1, 3)) : "";
        switch (depth > 4 ? random.Next(4) : random.Next(7))
        {
            case 0:
                return Space() + RandomString(random) + Space();
            case 1:
                return new[] { "0", "-0", "1.0", "1e5", "-1.5E-7", "123456789012345678901234567890", "3.14159265358979323846" }[random.Next(7)];
            case 2:
                return new[] { "true", "false", "null" }[random.Next(3)];
            case 3:
                return "\"\"";
            case 4:
            case 5:
                var members = Enumerable.Range(0, random.Next(0, 5))
                    .Select(_ => Space() + (random.Next(5) == 0 ? "\"dup\"" : RandomString(random)) + Space() + ":" + RandomValue(random, depth + 1));
                return "{" + string.Join(",", members) + Space() + "}";
            default:
                return "[" + string.Join(",", Enumerable.Range(0, random.Next(0, 5)).Select(_ => RandomValue(random, depth + 1))) + Space() + "]";
        }
    }

    private static string RandomString(Random random)
    {
        var builder = new StringBuilder("\"");
        for (var i = random.Next(0, 12); i > 0; i--)
        {
            builder.Append(random.Next(10) switch
            {
                0 => "\\\"",
                1 => "\\\\",
                2 => "\\/",
                3 => new[] { "\\n", "\\t", "\\b", "\\f", "\\r" }[random.Next(5)],
                4 => $"\\u{random.Next(0, 0xD800):x4}",
                5 => "\\ud83d\\ude00",
                6 => "é€😀<>&'+`",
                _ => ((char)random.Next('a', 'z' + 1)).ToString(),
            });
        }
        return builder.Append('"').ToString();
    }
}
