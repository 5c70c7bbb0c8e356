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
}
