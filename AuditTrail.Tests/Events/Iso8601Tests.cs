namespace AuditTrail.Tests.Events;

public sealed class Iso8601Tests
{
    [Fact]
    public void Instants_are_written_one_way_utc_with_seven_digits()
    {
        var random = new Random(7);
        Span<char> buffer = stackalloc char[AuditTrail.Core.Events.Iso8601.FormattedLength];
        for (var i = 0; i < 1000; i++)
        {
            var value = new DateTimeOffset(DateTime.SpecifyKind(DateTime.UnixEpoch.AddTicks(random.NextInt64(0, 60L * 365 * TimeSpan.TicksPerDay)), DateTimeKind.Unspecified), TimeSpan.FromMinutes(random.Next(-14 * 60, 14 * 60)));
            var expected = value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expected, AuditTrail.Core.Events.Iso8601.Format(value));
            Assert.Equal(expected, AuditTrail.Core.Events.Iso8601.Format(value, buffer).ToString());
        }
    }

    [Fact]
    public void Hand_read_timestamps_give_the_instants_the_framework_gives()
    {
        // The framework's reading, as Iso8601 did it before its hand-written path: every value the
        // fast path reads must come out the same, and every value either refuses must stay refused.
        static bool Reference(string text, out DateTimeOffset value)
        {
            value = default;
            var hasOffset = text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
            if (!hasOffset || !text.Contains('T', StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            var c = System.Globalization.CultureInfo.InvariantCulture;
            if (!DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK"], c, System.Globalization.DateTimeStyles.None, out var parsed)
                && !DateTimeOffset.TryParse(text, c, System.Globalization.DateTimeStyles.RoundtripKind, out parsed))
            {
                return false;
            }
            value = parsed.ToUniversalTime();
            return true;
        }

        var random = new Random(11);
        var samples = new List<string>
        {
            "2026-11-23T09:30:00Z", "2026-11-23T09:30:00.1Z", "2026-11-23T09:30:00.1234567Z", "2026-11-23T09:30:00.12345678Z",
            "2026-11-23T09:30:00+05:30", "2026-11-23T09:30:00-00:00", "2026-11-23T09:30:00+14:00", "2026-11-23T09:30:00+15:00",
            "2026-02-29T00:00:00Z", "2024-02-29T23:59:59.9999999-12:00", "2026-11-23T24:00:00Z", "2026-11-23T09:60:00Z",
            "2026-11-23T09:30:60Z", "2026-11-23t09:30:00Z", "2026-11-23T09:30:00z", "2026-11-23T09:30:00.Z", "2026-11-23T09:30Z",
            "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-23 09:30:00Z",
            "+2026-11-23T09:30:00Z", "２０２６-11-23T09:30:00Z",
        };
        for (var i = 0; i < 3000; i++)
        {
            var at = new DateTime(random.Next(1990, 2100), random.Next(1, 13), random.Next(1, 29), random.Next(24), random.Next(60), random.Next(60)).AddTicks(random.Next(10_000_000));
            var fraction = random.Next(9) switch { 0 => "", var n => "." + at.Ticks.ToString("D7", System.Globalization.CultureInfo.InvariantCulture)[^7..][..Math.Min(n, 7)] };
            var offset = random.Next(3) switch { 0 => "Z", 1 => "+" + random.Next(15).ToString("D2", System.Globalization.CultureInfo.InvariantCulture) + ":" + random.Next(60).ToString("D2", System.Globalization.CultureInfo.InvariantCulture), _ => "-0" + random.Next(10) + ":30" };
            samples.Add(at.ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + fraction + offset);
        }

        Assert.All(samples, text =>
        {
            var expectedOk = Reference(text, out var expected);
            var ok = AuditTrail.Core.Events.Iso8601.TryParseUtc(text, out var actual);
            Assert.Equal((expectedOk, expected), (ok, actual));
        });
    }
}
