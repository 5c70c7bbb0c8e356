using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Seeded generators of hostile input for the fuzz tests. Every value is built as JSON text, so
/// nesting deeper than the serializer's own limit, lone surrogates and duplicate keys can be made.
/// </summary>
public static partial class HostileInput
{
    /// <summary>Fixed unless <c>AUDITTRAIL_FUZZ_SEED</c> says otherwise, so CI runs the same cases every time.</summary>
    public static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("AUDITTRAIL_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : 20261123;

    private const string Placeholder = "__HOSTILE__";

    private static readonly string[] Fields =
    [
        "id", "workspaceId", "type", "timestamp", "actor", "actor.type", "actor.id", "actor.name", "actor.email",
        "resource", "resource.type", "resource.id", "resource.name", "context", "context.ip", "context.userAgent",
        "changes", "changes.0", "changes.0.field", "changes.0.before", "properties", "properties.reason",
    ];

    /// <summary>A JSON value meant to break something: wrong types, extremes of size and depth, odd text.</summary>
    public static string Value(Random random)
    {
        return random.Next(22) switch
        {
            0 => "null",
            1 => "true",
            2 => "0",
            3 => "-1.5e308",
            4 => "123456789012345678901234567890",
            5 => "\"\"",
            6 => "\"   \"",
            7 => Quote(new string('x', random.Next(300, 70_000))),
            8 => "\"\\u0000\\u0001\\u001f\"",
            9 => "\"\\ud800 lone surrogate\"",
            10 => "\"\u202eRTL \U0001F600 emoji \u0301\"",
            11 => Nested(random.Next(5, 100)),
            12 => "[" + string.Join(',', Enumerable.Repeat("1", random.Next(100, 20_000))) + "]",
            13 => "{" + string.Join(',', Enumerable.Range(0, random.Next(10, 2000)).Select(i => $"\"k{i}\":{i}")) + "}",
            14 => "\"2026-02-30T25:61:00Z\"",
            15 => "\"9999-12-31T23:59:59.9999999+14:00\"",
            16 => "\"0001-01-01T00:00:00Z\"",
            17 => "\"" + DateTimeOffset.UtcNow.AddDays(-91).ToString("O", CultureInfo.InvariantCulture) + "\"",
            18 => "{\"type\":null,\"id\":null}",
            19 => "[null,null,{}]",
            20 => "\"<script>alert(1)</script>' OR '1'='1\"",
            _ => "\"" + string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => (char)random.Next(0x20, 0x2FFF)).Where(c => c is not ('"' or '\\') && !char.IsSurrogate(c))) + "\"",
        };
    }

    private static string Quote(string text) => "\"" + text + "\"";

    private static string Nested(int depth) => new string('[', depth) + "1" + new string(']', depth);

    /// <summary>A valid event with one hostile change, as JSON text that stays valid JSON (so its siblings in an array can still be read).</summary>
    public static (string Text, string What) MutatedEvent(Random random, string workspaceId, string id)
    {
        var e = TestEvents.Event(workspaceId, id);
        var field = Fields[random.Next(Fields.Length)];
        switch (random.Next(7))
        {
            case 0:
                Remove(e, field);
                return (e.ToJsonString(), $"removed {field}");
            case 1:
                Set(e, field, JsonValue.Create(Placeholder));
                return (e.ToJsonString().Replace(Quote(Placeholder), "null", StringComparison.Ordinal), $"{field} = null");
            case 2:
                e["unexpected_" + random.Next(100)] = Placeholder;
                return (Inject(e, Value(random)), "unknown field");
            case 3:
                // Duplicate keys: System.Text.Json nodes cannot hold them, so they are written as text.
                var text = e.ToJsonString();
                return ("{\"id\":\"dup_" + random.Next(1000) + "\"," + text[1..], "duplicate id key");
            case 4:
                // Nulls everywhere.
                return (StringValue().Replace(e.ToJsonString(), ":null"), "every string null");
            case 5:
                return (Value(random), "not an object");
            default:
                Set(e, field, JsonValue.Create(Placeholder));
                var value = Value(random);
                return (Inject(e, value), $"{field} = {Clip(value)}");
        }
    }

    /// <summary>Event text broken at the character level (Event Hubs bodies are text, judged one by one).</summary>
    public static (string Text, string What) BrokenEventText(Random random, string workspaceId, string id)
    {
        var text = TestEvents.Event(workspaceId, id).ToJsonString();
        switch (random.Next(6))
        {
            case 0:
                return (text[..random.Next(text.Length)], "truncated");
            case 1:
                var at = random.Next(text.Length);
                return (text[..at] + "{}\",\\[:\0"[random.Next(8)] + text[at..], "stray character");
            case 2:
                return (text + " trailing garbage", "trailing garbage");
            case 3:
                return ("/* comment */" + text, "comment");
            case 4:
                return (text.Replace("\"Ada", "\"\\ud800Ada", StringComparison.Ordinal), "lone surrogate escape");
            default:
                return (new string('{', random.Next(60, 2000)), "deep unclosed nesting");
        }
    }

    /// <summary>A whole request body broken at the byte level: invalid UTF-8, truncation, flips, odd roots, size limits.</summary>
    public static (byte[] Body, string What) BrokenBody(Random random, string validBody)
    {
        var bytes = Encoding.UTF8.GetBytes(validBody);
        switch (random.Next(10))
        {
            case 0:
                var at = random.Next(bytes.Length);
                return ([.. bytes[..at], .. new byte[][] { [0xC3, 0x28], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80] }[random.Next(5)], .. bytes[at..]], "invalid UTF-8");
            case 1:
                return (bytes[..random.Next(bytes.Length)], "truncated");
            case 2:
                var flipped = (byte[])bytes.Clone();
                for (var i = 0; i < 1 + random.Next(5); i++)
                {
                    flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                }
                return (flipped, "bit flips");
            case 3:
                return ([0xEF, 0xBB, 0xBF, .. bytes], "byte order mark");
            case 4:
                return (Encoding.UTF8.GetBytes(new[] { "null", "{}", "42", "\"[]\"", "[[]]", "[null]", "[[{}]]" }[random.Next(7)]), "odd root");
            case 5:
                return (Encoding.UTF8.GetBytes(Nested(random.Next(60, 5000))), "deep nesting");
            case 6:
                return (Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat("{}", random.Next(1001, 3000))) + "]"), "too many events");
            case 7:
                return (Encoding.UTF8.GetBytes("[" + Quote(new string('a', (4 * 1024 * 1024) + random.Next(10, 1000))) + "]"), "over 4 MiB");
            case 8:
                return (Encoding.Unicode.GetBytes(validBody), "UTF-16");
            default:
                return ([], "empty");
        }
    }

    private static string Inject(JsonObject e, string value) => e.ToJsonString().Replace(Quote(Placeholder), value, StringComparison.Ordinal);

    private static string Clip(string text) => text.Length > 40 ? text[..40] + "…" : text;

    private static JsonObject? Parent(JsonObject e, string path, out string last)
    {
        var parts = path.Split('.');
        last = parts[^1];
        JsonNode? node = e;
        foreach (var part in parts[..^1])
        {
            node = node is JsonArray a ? a[int.Parse(part, CultureInfo.InvariantCulture)] : node?[part];
        }
        return node as JsonObject;
    }

    private static void Remove(JsonObject e, string path)
    {
        var parts = path.Split('.');
        if (parts.Length == 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out _))
        {
            ((JsonArray)e[parts[0]]!).RemoveAt(0);
            return;
        }
        Parent(e, path, out var last)?.Remove(last);
    }

    private static void Set(JsonObject e, string path, JsonNode value)
    {
        var parts = path.Split('.');
        if (parts.Length == 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out _))
        {
            ((JsonArray)e[parts[0]]!)[0] = value;
            return;
        }
        if (Parent(e, path, out var last) is { } parent)
        {
            parent[last] = value;
        }
    }

    [GeneratedRegex(":\"[^\"]*\"")]
    private static partial Regex StringValue();
}
