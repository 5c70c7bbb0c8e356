namespace AuditTrail.Tests.Infrastructure;

/// <summary>A clock the test sets: for retention windows, expiry and the age limits of ingestion.</summary>
public sealed class TestClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
