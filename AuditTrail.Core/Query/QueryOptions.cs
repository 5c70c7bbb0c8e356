using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Query;

/// <summary>Configuration section <c>AuditTrail:Query</c>.</summary>
public sealed class QueryOptions
{
    public const string Section = "AuditTrail:Query";

    /// <summary>
    /// How many day partitions one page may read at the same time once the newest day comes up
    /// short (1 reads them one after another). Each read asks for at most one page of rows.
    /// </summary>
    [Range(1, 32)]
    public int MaxParallelDays { get; set; } = 8;

    /// <summary>
    /// Memory that the days read ahead of the one a page is consuming may hold, in bytes (an estimate
    /// of the events' managed size). A read ahead that would pass it stops and is finished, from where
    /// it stopped, when the page reaches its day. The page itself is bounded by its limit and the
    /// event size limits; without this, read-ahead could hold 8 days × 1,001 of the largest events.
    /// </summary>
    [Range(typeof(long), "65536", "1073741824")]
    public long MaxReadAheadBytes { get; set; } = DefaultMaxReadAheadBytes;

    public const long DefaultMaxReadAheadBytes = 32L * 1024 * 1024;
}
