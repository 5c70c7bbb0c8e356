using System.Globalization;

namespace AuditTrail.Core.Events;

/// <summary>Instants as the API takes them: ISO 8601 with a date, a time and 'Z' or an offset.</summary>
public static class Iso8601
{
    private static readonly string[] ExactFormats = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK"];

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
