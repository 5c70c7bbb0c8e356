using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Query;

/// <summary>
/// How a view of a workspace's trail reads it, shared by the list (<see cref="TrailQueryService"/>)
/// and the activity counts (<see cref="TrailActivityService"/>): the window, clamped to retention;
/// the row family to scan (resource, actor or type index, else primary rows) and its key bounds;
/// the filters the service applies; the exact check of every row in memory; and which days to
/// visit (those the <see cref="WorkspaceDays"/> registry says hold events). A view decides only
/// in which order it visits the days and what it does with the matches.
/// </summary>
/// <remarks>
/// Remaining filters run server-side as OData comparisons of quoted literals, and every row is
/// checked again in memory (<see cref="Matches"/>), so hashed keys and hostile values can only
/// ever match exactly.
/// </remarks>
public sealed class DayScan
{
    private DayScan(AuditQuery query, string prefix, IReadOnlyList<string> serverFilters)
    {
        Query = query;
        Prefix = prefix;
        ServerFilters = serverFilters;
        // Rows of one day sort newest first (TrailKeys.ReverseTicks); "`" follows the "_" after the time.
        Lower = prefix + TrailKeys.ReverseTicks(query.End) + "`"; // exclusive of End: its rows end in "_" < "`"
        Upper = prefix + TrailKeys.ReverseTicks(query.Start) + "`"; // inclusive of Start
    }

    /// <summary>
    /// The scan of a view at <paramref name="now"/>. Retention is applied here, at read time, not
    /// by rewriting the caller's query: a query (and so the fingerprint its continuation is bound
    /// to) stays the same from page to page while the retention window moves on.
    /// </summary>
    public static DayScan Of(AuditQuery query, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(query);
        var retentionStart = now.AddDays(-EventLimits.RetentionDays);
        if (query.Start < retentionStart)
        {
            query = query with { Start = retentionStart };
        }
        var (prefix, filters) = Plan(query);
        return new DayScan(query, prefix, filters);
    }

    /// <summary>The view's query with its start clamped to the retention window.</summary>
    public AuditQuery Query { get; }

    /// <summary>The row family scanned (<see cref="TrailKeys"/>' prefixes).</summary>
    public string Prefix { get; }

    public IReadOnlyList<string> ServerFilters { get; }

    public string Lower { get; }

    public string Upper { get; }

    /// <summary>Nothing of the window is inside retention.</summary>
    public bool IsEmpty => Query.Start >= Query.End;

    /// <summary>Scans an actor's or a resource's index: usually a small share of a workspace's events a day.</summary>
    public bool IsSparse => Prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal) || Prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal);

    /// <summary>The window's first and last UTC days.</summary>
    public DateOnly FirstDay => DayKeys.Day(Query.Start);

    public DateOnly LastDay => DayKeys.Day(Query.End.AddTicks(-1));

    /// <summary>The exact check: an id too long for its key is hashed, and only the stored value decides.</summary>
    public bool Matches(in EventFacets row)
    {
        var q = Query;
        return row.Time is { } t && t >= q.Start && t < q.End
               && (q.Types.Count == 0 || q.Types.Contains(row.Type ?? "", StringComparer.Ordinal))
               && (q.ProductArea is null || row.ProductArea == q.ProductArea)
               && (q.ActorId is null || row.ActorId == q.ActorId)
               && (q.ActorType is null || row.ActorType == q.ActorType)
               && (q.ResourceType is null || row.ResourceType == q.ResourceType)
               && (q.ResourceId is null || row.ResourceId == q.ResourceId);
    }

    /// <summary>The workspace's days with events from the window's first day to <paramref name="through"/> (else its last), oldest first.</summary>
    public Task<List<DateOnly>> DaysAsync(WorkspaceDays days, DateOnly? through, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(days);
        return days.ListAsync(Query.WorkspaceId, FirstDay, through ?? LastDay, cancellationToken);
    }

    /// <summary>One day's rows of the family inside the bounds that pass the server-side filters, newest first, after <paramref name="after"/> when given.</summary>
    public IAsyncEnumerable<Page<TableEntity>> ReadAsync(EventTable rows, DateOnly day, string? after, int maxPerPage, IEnumerable<string>? select, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return rows.ScanAsync(TrailKeys.PartitionKey(Query.WorkspaceId, day), Lower, Upper, after, ServerFilters, maxPerPage, select, cancellationToken);
    }

    /// <summary>The row family to scan, and the filters the service can apply to it.</summary>
    internal static (string Prefix, List<string> ServerFilters) Plan(AuditQuery q)
    {
        var prefix = q.ResourceType is not null && q.ResourceId is not null ? TrailKeys.ResourcePrefixFor(q.ResourceType, q.ResourceId)
            : q.ActorId is not null ? TrailKeys.ActorPrefixFor(q.ActorId)
            : q.Types.Count == 1 ? TrailKeys.TypePrefixFor(q.Types[0])
            : TrailKeys.PrimaryPrefix;
        var filters = new List<string>();
        void Add(EventFacet facet, string? value)
        {
            if (value is not null)
            {
                filters.Add(EventRows.EqualsFilter(facet, value));
            }
        }
        if (!prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal))
        {
            Add(EventFacet.ActorId, q.ActorId);
        }
        if (!prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal))
        {
            Add(EventFacet.ResourceType, q.ResourceType);
            Add(EventFacet.ResourceId, q.ResourceId);
        }
        if (q.Types.Count == 1 && !prefix.StartsWith(TrailKeys.TypePrefix, StringComparison.Ordinal))
        {
            Add(EventFacet.Type, q.Types[0]);
        }
        Add(EventFacet.ActorType, q.ActorType);
        Add(EventFacet.ProductArea, q.ProductArea);
        return (prefix, filters);
    }
}
