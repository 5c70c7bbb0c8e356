using System.Globalization;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>A clock the test sets: for retention windows, expiry and the age limits of ingestion.</summary>
public sealed class TestClock(DateTimeOffset now) : TimeProvider
{
    /// <summary>
    /// The environment variable that sets the time of day (UTC, <c>HH:mm</c>) of every
    /// <see cref="AtTestTime"/> clock. scripts/test runs the time-dependent suites with it at 23:59
    /// and 00:01, besides the ordinary run's 12:00.
    /// </summary>
    public const string TimeOfDayVariable = "AUDITTRAIL_TEST_TIME";

    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;

    /// <summary>
    /// A clock fixed at the run's test time of day (12:00 UTC unless <see cref="TimeOfDayVariable"/>
    /// says otherwise), on the latest day that has reached that time, so a test that counts days
    /// back from "now" sees the same day boundaries whatever hour it runs at.
    /// </summary>
    public static TestClock AtTestTime() => new(TestTime(DateTimeOffset.UtcNow, Environment.GetEnvironmentVariable(TimeOfDayVariable)));

    /// <summary>The latest instant at or before <paramref name="real"/> whose UTC time of day is <paramref name="timeOfDay"/>.</summary>
    public static DateTimeOffset TestTime(DateTimeOffset real, string? timeOfDay)
    {
        var time = string.IsNullOrEmpty(timeOfDay)
            ? new TimeOnly(12, 0)
            : TimeOnly.ParseExact(timeOfDay, "HH:mm", CultureInfo.InvariantCulture);
        var utc = real.UtcDateTime;
        var candidate = new DateTimeOffset(DateOnly.FromDateTime(utc).ToDateTime(time), TimeSpan.Zero);
        return candidate > real ? candidate.AddDays(-1) : candidate;
    }
}
