using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// Configuration section <c>AuditTrail:RateLimits</c> (docs/operations.md, "Rate limits"). Every
/// bucket is a token bucket: it holds at most its <c>Burst</c>, and gains its <c>Rate</c> tokens
/// every <see cref="ReplenishmentPeriod"/>. The defaults are far above what a person on the page or
/// a well-behaved producer sends, and low enough that one caller cannot keep the shared storage
/// account busy for everyone else.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "AuditTrail:RateLimits";

    /// <summary>How often every bucket gains its rate (one period for all, so rates read as "per second" by default).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Requests one client address may send in a burst, before any token is checked (a flood of bad tokens too).</summary>
    [Range(1, 1_000_000)]
    public int PerAddressBurst { get; set; } = 1000;

    /// <summary>Requests one client address gains per period.</summary>
    [Range(1, 1_000_000)]
    public int PerAddressRate { get; set; } = 100;

    /// <summary>Authorised requests one access token may send in a burst.</summary>
    [Range(1, 1_000_000)]
    public int PerTokenBurst { get; set; } = 600;

    /// <summary>Authorised requests one access token gains per period.</summary>
    [Range(1, 1_000_000)]
    public int PerTokenRate { get; set; } = 20;

    /// <summary>Authorised requests all tokens of one workspace together may send in a burst.</summary>
    [Range(1, 1_000_000)]
    public int PerWorkspaceBurst { get; set; } = 1200;

    /// <summary>Authorised requests one workspace gains per period.</summary>
    [Range(1, 1_000_000)]
    public int PerWorkspaceRate { get; set; } = 40;

    /// <summary>
    /// Costly requests one workspace may send in a burst: the activity chart, integrity
    /// verification, export creation and lists filtered by more than one event type, each of
    /// which reads many partitions. They also count in the buckets above.
    /// </summary>
    [Range(1, 1_000_000)]
    public int CostlyBurst { get; set; } = 120;

    /// <summary>Costly requests one workspace gains per period.</summary>
    [Range(1, 1_000_000)]
    public int CostlyRate { get; set; } = 2;

    /// <summary>Integrity verifications of one workspace running at once on one instance; one more is refused (429).</summary>
    [Range(1, 64)]
    public int MaxConcurrentVerifications { get; set; } = 1;

    /// <summary>Exports of one workspace accepted and not finished (queued or running); one more is refused (429).</summary>
    [Range(1, 1000)]
    public int MaxRunningExports { get; set; } = 3;

    /// <summary>The Retry-After given when a verification or an export is refused because too many run at once.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan BusyRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Null when usable, else which rule is broken: a rate above its burst could never be spent and is a typo.</summary>
    public string? Problem() =>
        PerAddressRate > PerAddressBurst ? nameof(PerAddressRate)
        : PerTokenRate > PerTokenBurst ? nameof(PerTokenRate)
        : PerWorkspaceRate > PerWorkspaceBurst ? nameof(PerWorkspaceRate)
        : CostlyRate > CostlyBurst ? nameof(CostlyRate)
        : null;
}
