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
}
