using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;

namespace AuditTrail.Core.Query;

/// <summary>
/// Reads a filtered page of a workspace's trail, newest first. It walks the workspace's days that
/// hold events (from <c>AuditWorkspaceDays</c>), newest first, with one range scan per day over
/// the most selective row family — resource, actor or type index, else primary rows — and stops
/// as soon as the page (plus one look-ahead row, so the last page has no nextLink) is full.
/// Remaining filters run server-side as OData comparisons of quoted literals, and every row is
/// checked again in memory, so hashed keys and hostile values can only ever match exactly.
/// </summary>
public sealed class TrailQueryService(TrailStore store, TimeProvider time)
{
    public async Task<AuditEventPage> QueryAsync(AuditQuery query, QueryPosition? from, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        // Retention is applied here, at read time, not by rewriting the query: the query (and so the
        // fingerprint its continuation is bound to) must stay the same from page to page while the
        // retention window moves on.
        var retentionStart = time.GetUtcNow().AddDays(-EventLimits.RetentionDays);
        if (query.Start < retentionStart)
        {
            query = query with { Start = retentionStart };
        }
        if (query.Start >= query.End)
        {
            return new AuditEventPage([], null);
        }
        var (prefix, serverFilters) = Plan(query);
        var lower = prefix + TrailKeys.ReverseTicks(query.End) + "`"; // exclusive of End: its rows end in "_" < "`"
        var upper = prefix + TrailKeys.ReverseTicks(query.Start) + "`"; // inclusive of Start

        var results = new List<(AuditEvent Event, string Day, string RowKey)>(query.Limit + 1);
        await foreach (var day in DaysAsync(query, from?.Day, cancellationToken))
        {
            var clauses = new List<string>
            {
                TableFilter.PartitionEquals(TrailKeys.PartitionKey(query.WorkspaceId, DateOnly.ParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture))),
                $"RowKey ge {TableFilter.Literal(lower)}",
                $"RowKey lt {TableFilter.Literal(upper)}",
            };
            if (from is not null && from.Day == day)
            {
                clauses.Add($"RowKey gt {TableFilter.Literal(from.AfterRowKey)}");
            }
            clauses.AddRange(serverFilters);
            var filter = string.Join(" and ", clauses);

            await foreach (var page in store.Events.QueryPagesAsync(new TableQuery(filter, PageSize: Math.Min(1000, query.Limit + 1 - results.Count)), null, cancellationToken))
            {
                foreach (var row in page.Values)
                {
                    var e = EventRows.ToEvent(row);
                    if (Matches(e, query))
                    {
                        results.Add((e, day, row.RowKey));
                        if (results.Count > query.Limit)
                        {
                            var last = results[query.Limit - 1];
                            return new AuditEventPage(results.Take(query.Limit).Select(r => r.Event).ToList(), new QueryPosition(last.Day, last.RowKey));
                        }
                    }
                }
            }
        }
        return new AuditEventPage(results.Select(r => r.Event).ToList(), null);
    }

    /// <summary>The row family to scan, and the filters the service can apply to it.</summary>
    private static (string Prefix, List<string> ServerFilters) Plan(AuditQuery q)
    {
        var filters = new List<string>();
        string prefix;
        if (q.ResourceType is not null && q.ResourceId is not null)
        {
            prefix = TrailKeys.ResourcePrefixFor(q.ResourceType, q.ResourceId);
        }
        else if (q.ActorId is not null)
        {
            prefix = TrailKeys.ActorPrefixFor(q.ActorId);
        }
        else if (q.Types.Count == 1)
        {
            prefix = TrailKeys.TypePrefixFor(q.Types[0]);
        }
        else
        {
            prefix = TrailKeys.PrimaryPrefix;
        }

        void Add(string property, string? value)
        {
            if (value is not null)
            {
                filters.Add(TableFilter.Equal(property, value));
            }
        }
        if (!prefix.StartsWith(TrailKeys.ActorPrefix, StringComparison.Ordinal))
        {
            Add("ActorId", q.ActorId);
        }
        if (!prefix.StartsWith(TrailKeys.ResourcePrefix, StringComparison.Ordinal))
        {
            Add("ResourceType", q.ResourceType);
            Add("ResourceId", q.ResourceId);
        }
        if (q.Types.Count == 1 && !prefix.StartsWith(TrailKeys.TypePrefix, StringComparison.Ordinal))
        {
            Add("Type", q.Types[0]);
        }
        Add("ActorType", q.ActorType);
        Add("ProductArea", q.ProductArea);
        return (prefix, filters);
    }

    private static bool Matches(AuditEvent e, AuditQuery q) =>
        e.Timestamp >= q.Start && e.Timestamp < q.End
        && (q.Types.Count == 0 || q.Types.Contains(e.Type, StringComparer.Ordinal))
        && (q.ProductArea is null || e.ProductArea == q.ProductArea)
        && (q.ActorId is null || e.Actor.Id == q.ActorId)
        && (q.ActorType is null || e.Actor.Type == q.ActorType)
        && (q.ResourceType is null || e.Resource.Type == q.ResourceType)
        && (q.ResourceId is null || e.Resource.Id == q.ResourceId);

    /// <summary>The workspace's days with events inside the window, newest first, starting at <paramref name="fromDay"/>.</summary>
    private async IAsyncEnumerable<string> DaysAsync(AuditQuery q, string? fromDay, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = q.Start.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var last = fromDay ?? q.End.AddTicks(-1).UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var filter = $"{TableFilter.PartitionEquals(q.WorkspaceId)} and RowKey ge {TableFilter.Literal(first)} and RowKey le {TableFilter.Literal(last)}";
        var days = await store.WorkspaceDays.QueryAsync(new TableQuery(filter, ["RowKey"]), cancellationToken)
            .Select(r => r.RowKey).ToListAsync(cancellationToken);
        days.Sort(StringComparer.Ordinal);
        for (var i = days.Count - 1; i >= 0; i--)
        {
            yield return days[i];
        }
    }
}
