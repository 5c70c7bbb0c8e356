using System.Globalization;

namespace AuditTrail.Core.Events;

/// <summary>Instants as the API takes them: ISO 8601 with a date, a time and 'Z' or an offset.</summary>
public static class Iso8601
{
    private static readonly string[] ExactFormats = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK"];

    /// <summary>Characters in <see cref="Format(DateTimeOffset)"/>'s answer.</summary>
    public const int FormattedLength = 28;

    /// <summary>
    /// The one way the trail writes an instant: UTC, seven fractional digits, 'Z'
    /// (2026-11-23T09:55:09.0000000Z). Content hashes depend on it, so it never varies; it is the
    /// round-trip format of a UTC DateTime, which .NET formats on a fast path.
    /// </summary>
    public static string Format(DateTimeOffset value) => value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Writes <see cref="Format(DateTimeOffset)"/> into <paramref name="destination"/> without allocating.</summary>
    public static ReadOnlySpan<char> Format(DateTimeOffset value, Span<char> destination)
    {
        if (!value.UtcDateTime.TryFormat(destination, out var written, "O", CultureInfo.InvariantCulture))
        {
            throw new ArgumentException($"The destination needs {FormattedLength} characters.", nameof(destination));
        }
        return destination[..written];
    }

    /// <summary>
    /// Parses to UTC. A value without an offset is refused, not assumed to be UTC: a local time
    /// without one cannot be placed on a UTC trail.
    /// </summary>
    public static bool TryParseUtc(string text, out DateTimeOffset value)
    {
        value = default;
        var hasOffset = text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        if (!hasOffset || !text.Contains('T', StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        // The shapes nearly every producer sends are read by hand (a tenth of the framework's cost);
        // anything else, or anything unusual in them, goes the framework's way, which decides.
        if (TryParseCommon(text, out value))
        {
            return true;
        }
        if (!DateTimeOffset.TryParseExact(text, ExactFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
            && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out parsed))
        {
            return false;
        }
        value = parsed.ToUniversalTime();
        return true;
    }

    /// <summary>
    /// <c>yyyy-MM-ddTHH:mm:ss</c>, an optional fraction of 1-7 digits, then <c>Z</c> or
    /// <c>±hh:mm</c>: the same instants the exact formats give, for the values it accepts.
    /// </summary>
    private static bool TryParseCommon(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':'
            || !Number(s.Slice(0, 4), out var year) || !Number(s.Slice(5, 2), out var month) || !Number(s.Slice(8, 2), out var day)
            || !Number(s.Slice(11, 2), out var hour) || !Number(s.Slice(14, 2), out var minute) || !Number(s.Slice(17, 2), out var second))
        {
            return false;
        }
        // Years at the ends of the range could leave it once the offset is applied: the general way decides.
        if (year is < 2 or > 9998 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }
        var at = 19;
        long fraction = 0;
        if (s[at] == '.')
        {
            var digits = 0;
            for (at++; at < s.Length && char.IsAsciiDigit(s[at]); at++, digits++)
            {
                fraction = fraction * 10 + (s[at] - '0');
            }
            if (digits is 0 or > 7)
            {
                return false;
            }
            for (; digits < 7; digits++)
            {
                fraction *= 10;
            }
        }
        TimeSpan offset;
        if (at == s.Length - 1 && s[at] == 'Z')
        {
            offset = TimeSpan.Zero;
        }
        else if (at == s.Length - 6 && s[at] is '+' or '-' && s[at + 3] == ':'
                 && Number(s.Slice(at + 1, 2), out var offsetHours) && Number(s.Slice(at + 4, 2), out var offsetMinutes)
                 && offsetHours < 14 && offsetMinutes < 60)
        {
            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (s[at] == '-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }
        value = new DateTimeOffset(new DateTime(year, month, day, hour, minute, second).AddTicks(fraction), offset).ToUniversalTime();
        return true;
    }

    private static bool Number(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            value = value * 10 + (c - '0');
        }
        return true;
    }
}
