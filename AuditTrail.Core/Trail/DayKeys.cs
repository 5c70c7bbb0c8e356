using System.Globalization;

namespace AuditTrail.Core.Trail;

/// <summary>
/// The one spelling of a UTC day in the trail's keys: <c>yyyyMMdd</c>. Event partitions end in it
/// (<see cref="TrailKeys.PartitionKey(string, DateOnly)"/>), the day registries are keyed by it
/// (<see cref="WorkspaceDays"/>), and a continuation token carries it; every one of them sorts by
/// time because the format does.
/// </summary>
public static class DayKeys
{
    public const int Length = 8;

    public static string Of(DateOnly day) => string.Create(Length, day, static (chars, d) => Write(d, chars));

    /// <summary>The UTC day of an instant.</summary>
    public static string Of(DateTimeOffset instant) => Of(Day(instant));

    public static DateOnly Day(DateTimeOffset instant) => DateOnly.FromDateTime(instant.UtcDateTime);

    /// <exception cref="FormatException">Not a day key.</exception>
    public static DateOnly Parse(string key) => DateOnly.ParseExact(key, "yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>The start (00:00 UTC) of a day.</summary>
    public static DateTimeOffset Start(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>The key into eight characters, formatted by hand: event partition keys take it for every ingested event, and a custom date format is slow.</summary>
    public static void Write(DateOnly day, Span<char> into)
    {
        ((uint)day.Year).TryFormat(into[..4], out _, "D4", CultureInfo.InvariantCulture);
        ((uint)day.Month).TryFormat(into[4..6], out _, "D2", CultureInfo.InvariantCulture);
        ((uint)day.Day).TryFormat(into[6..8], out _, "D2", CultureInfo.InvariantCulture);
    }
}
