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
        // The round-trip shapes most producers send parse exactly (fast); anything else ISO-like goes the general way.
        if (!DateTimeOffset.TryParseExact(text, ExactFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
            && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out parsed))
        {
            return false;
        }
        value = parsed.ToUniversalTime();
        return true;
    }
}
