namespace AuditTrail.Benchmarks;

/// <summary>A clock that reads what it was set to: benchmarks seed "days" in seconds, and runs land on days no real data has.</summary>
internal sealed class SettableClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
