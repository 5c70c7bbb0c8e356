using AuditTrail.Core.Trail;

namespace AuditTrail.Tests.Events;

public sealed class TrailKeysTests
{
    public static TheoryData<string> HostileIds() =>
    [
        "a/b\\c#d?e",
        "it's \"quoted\"",
        "tab\there\u0001\u007f\u009f",
        "ünïcødé ☃ 𝄞",
        "under_score:colon~tilde%percent",
        new string('x', 2048),
        "",
    ];

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void Encoded_ids_are_legal_keys_without_separators(string id)
    {
        var encoded = TrailKeys.Encode(id);

        Assert.True(encoded.Length <= TrailKeys.MaxEncodedLength + 2);
        Assert.DoesNotContain(encoded, c => c is '/' or '\\' or '#' or '?' or '_' or ':' || char.IsControl(c) || c > 127);
    }

    [Fact]
    public void Encoding_is_injective_over_lookalike_ids()
    {
        string[] ids = ["a_b", "a~5Fb", "a b", "a+b", "A_B", "a", "a_", "ab", "~~", "é", "e\u0301", new string('x', 200), new string('x', 201)];

        var encoded = ids.Select(TrailKeys.Encode).ToList();

        Assert.Equal(ids.Length, encoded.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Actor_prefix_of_one_id_never_matches_another()
    {
        // "x" and "x_y" must not share a scan prefix: '_' is escaped inside ids.
        var prefix = TrailKeys.ActorPrefixFor("x");
        var other = TrailKeys.ActorRowKey("x_y", DateTimeOffset.UtcNow, "e1");

        Assert.False(other.StartsWith(prefix, StringComparison.Ordinal));
        Assert.StartsWith(prefix, TrailKeys.ActorRowKey("x", DateTimeOffset.UtcNow, "e1"), StringComparison.Ordinal);
    }

    [Fact]
    public void Newer_events_sort_first_within_a_partition()
    {
        var t = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

        var newer = TrailKeys.PrimaryRowKey(t.AddTicks(1), "a");
        var older = TrailKeys.PrimaryRowKey(t, "a");

        Assert.True(string.CompareOrdinal(newer, older) < 0);
    }

    [Fact]
    public void Partition_is_the_workspace_and_the_UTC_day()
    {
        var justBeforeMidnightInNewYork = new DateTimeOffset(2026, 11, 23, 23, 30, 0, TimeSpan.FromHours(-5));

        Assert.Equal("ws_1_20261124", TrailKeys.PartitionKey("ws_1", justBeforeMidnightInNewYork));
    }

    [Fact]
    public void Keys_of_the_longest_legal_ids_stay_far_below_1_KiB()
    {
        var id = new string('\u2603', 256);

        var key = TrailKeys.ResourceRowKey(id, id, DateTimeOffset.UtcNow, id);

        Assert.True(key.Length < 300, $"Key is {key.Length} characters.");
    }

    [Fact]
    public void Fast_encoding_matches_the_escape_rule_byte_for_byte()
    {
        // The rule as documented, written the plain way: the fast path (safe ids returned as they
        // are, stack buffers, table hex) must give exactly these keys, or stored rows stop matching.
        static string Reference(string value)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(value);
            var sb = new System.Text.StringBuilder();
            foreach (var b in bytes)
            {
                if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.')
                {
                    sb.Append((char)b);
                }
                else
                {
                    sb.Append('~').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            return sb.Length > TrailKeys.MaxEncodedLength
                ? "~~" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes), 0, 20)
                : sb.ToString();
        }

        var random = new Random(20261123);
        const string alphabet = "abcXYZ019-._:~/ é☃\t\u0001";
        var samples = new List<string> { "", "usr_42", new string('a', 96), new string('a', 97), new string('é', 32), new string('é', 33), new string('x', 5000) };
        for (var i = 0; i < 3000; i++)
        {
            var chars = new char[random.Next(0, 140)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = random.Next(10) == 0 ? (char)random.Next(0x20, 0xD7FF) : alphabet[random.Next(alphabet.Length)];
            }
            samples.Add(new string(chars));
        }
        samples.Add("𝄞 surrogate pair");

        Assert.All(samples, s => Assert.Equal(Reference(s), TrailKeys.Encode(s)));
    }

    [Fact]
    public void Every_row_key_of_an_event_ends_with_the_same_suffix()
    {
        var at = new DateTimeOffset(2026, 11, 23, 9, 30, 0, TimeSpan.Zero);
        var suffix = TrailKeys.EventSuffix(at, "evt/1");
        Assert.Equal(TrailKeys.PrimaryPrefix + suffix, TrailKeys.PrimaryRowKey(at, "evt/1"));
        Assert.EndsWith("_" + suffix, TrailKeys.ActorRowKey("usr_1", at, "evt/1"), StringComparison.Ordinal);
        Assert.EndsWith("_" + suffix, TrailKeys.TypeRowKey("Source Modified", at, "evt/1"), StringComparison.Ordinal);
        Assert.EndsWith("_" + suffix, TrailKeys.ResourceRowKey("source", "src 1", at, "evt/1"), StringComparison.Ordinal);
    }
}
