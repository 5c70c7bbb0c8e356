using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Query;
using AuditTrail.Functions.Hosting;

namespace AuditTrail.Functions.Query;

/// <summary>
/// Turns the query string into an <see cref="AuditQuery"/>, refusing anything it does not
/// understand (an unknown parameter is refused too, by <see cref="Rule"/>: a misspelt filter must
/// not silently widen the result). The window defaults to the whole retention period and never
/// reaches beyond it.
/// </summary>
public static class QueryParameters
{
    /// <summary>The filters as the OpenAPI document describes them, with the limits <see cref="Parse"/> applies.</summary>
    public static IReadOnlyList<QueryParameterSpec> Filters { get; } =
    [
        new("start", "Inclusive start, ISO 8601 with 'Z' or an offset. Default: the start of the 90-day retention window.", 64, Format: "date-time", Example: "2026-11-23T00:00:00Z"),
        new("end", "Exclusive end, ISO 8601 with 'Z' or an offset. Default and cap: now + 5 minutes.", 64, Format: "date-time"),
        new("type", $"Event types, comma-separated or repeated (at most {AuditQuery.MaxTypes}); matched case-insensitively against the catalog; each at most {EventLimits.MaxTypeLength} characters.", Example: "Source Modified"),
        new("productArea", "A product area from GET /api/event-types, or Uncataloged; former names are accepted.", 128, Example: "Source"),
        new("actorId", "Who acted.", EventLimits.MaxIdLength, Example: "usr_42"),
        new("actorType", "The kind of actor.", 16, Enum: ActorTypes.All),
        new("resourceType", "What kind of resource was acted on.", EventLimits.MaxTypeLength, Example: "warehouse"),
        new("resourceId", "Which resource was acted on.", EventLimits.MaxIdLength, Example: "wh_7"),
    ];

    /// <summary>A page's size and position, for listing routes.</summary>
    public static IReadOnlyList<QueryParameterSpec> Paging { get; } =
    [
        new("limit", "Page size.", Minimum: 1, Maximum: AuditQuery.MaxLimit, Default: AuditQuery.DefaultLimit),
        new("continuation", "Only as found in nextLink: it is bound to the filters it was made with."),
    ];

    /// <summary>
    /// Whether the query names more than one event type (repeated or comma-separated, as
    /// <see cref="Parse"/> reads them): such a list cannot use the type index (DayScan.Plan in AuditTrail.Core.Query),
    /// so it reads every row of each day and filters them in the app; it is rate-limited as a costly request. Counted before validation; an invalid query is refused anyway.
    /// </summary>
    public static bool NamesSeveralTypes(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return query["type"].SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.OrdinalIgnoreCase).Skip(1).Any();
    }

    /// <summary>
    /// The filters of <paramref name="f"/> as an <see cref="AuditQuery"/>, or the first parameter
    /// refused (in the order a reader of the query would meet them). Unknown and repeated
    /// parameters have been refused before (<see cref="Rule"/>).
    /// </summary>
    public static (AuditQuery? Query, QueryRefusal? Refusal) Parse(string workspaceId, TrailFilters f, DateTimeOffset now, PageParameters? page = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        QueryRefusal? refusal = null;
        var retentionStart = now.AddDays(-EventLimits.RetentionDays);
        var latest = now + EventLimits.MaxFutureSkew;
        if (!Time(f.End, "end", ref refusal, out var endTime) || !Time(f.Start, "start", ref refusal, out var startTime))
        {
            return (null, refusal);
        }
        var end = endTime ?? latest;
        var start = startTime ?? retentionStart;
        if (end > latest)
        {
            end = latest;
        }
        // A start before the retention window is not an error (nothing older is shown; the query
        // service applies the window when it reads), and it is not rewritten here, so a nextLink
        // stays valid while time passes.
        if (start >= end)
        {
            return (null, new(f.Start is { Length: > 0 } ? "start" : "end", "'start' must be earlier than 'end' (and 'end' later than the start of the 90-day retention window)."));
        }
        if (!Types(f.Type, ref refusal, out var types)
            || !Area(f.ProductArea, ref refusal, out var area)
            || !Text(f.ActorType, "actorType", 16, ref refusal, out var actorType)
            || (actorType is not null && !ActorTypes.All.Contains(actorType)
                && Refuse(ref refusal, "actorType", $"'actorType' must be one of {string.Join(", ", ActorTypes.All)}."))
            || !Limit(page?.Limit, ref refusal, out var limit)
            || !Text(f.ActorId, "actorId", EventLimits.MaxIdLength, ref refusal, out var actorId)
            || !Text(f.ResourceType, "resourceType", EventLimits.MaxTypeLength, ref refusal, out var resourceType)
            || !Text(f.ResourceId, "resourceId", EventLimits.MaxIdLength, ref refusal, out var resourceId))
        {
            return (null, refusal);
        }
        return (new AuditQuery(workspaceId, start, end, types, area, actorId, actorType, resourceType, resourceId, limit), null);
    }

    /// <summary>
    /// The query parameters a route takes (<paramref name="parameters"/>): any other is refused as
    /// unknown, and each but <c>type</c> may appear once (a misspelt filter must not silently widen the result).
    /// </summary>
    public static QueryParameterRule Rule(IReadOnlyList<QueryParameterSpec> parameters)
    {
        var known = parameters.Select(p => p.Name).ToList();
        return new(known,
            key => Problem(new(key, $"Unknown parameter '{Clip(key)}'. Known: {string.Join(", ", known)}.")),
            key => Problem(new(key, $"Parameter '{key}' may appear only once.")),
            Repeatable: ["type"]);
    }

    /// <summary>Describes <paramref name="parameters"/> in the OpenAPI document and refuses any other (<see cref="Rule"/>).</summary>
    public static RouteHandlerBuilder TakesQuery(this RouteHandlerBuilder builder, IReadOnlyList<QueryParameterSpec> parameters) =>
        builder.WithQueryParameters(parameters).AcceptsQueryParameters(Rule(parameters));

    /// <summary>
    /// A route that reads the whole filtered view (every day of its window, not one page), as the
    /// activity chart and an export do: it takes the listing's filters and is rate-limited as costly.
    /// </summary>
    public static RouteHandlerBuilder ReadsFilteredView(this RouteHandlerBuilder builder) =>
        builder.TakesQuery(Filters).CountsAsCostly();

    /// <summary>The 400 a refused query parameter is answered with.</summary>
    public static ApiProblem Problem(QueryRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return ApiProblem.BadRequest(refusal.Code, ApiProblem.InvalidQueryTitle, refusal.Message, refusal.Parameter);
    }

    private static bool Types(Microsoft.Extensions.Primitives.StringValues values, ref QueryRefusal? refusal, out List<string> types)
    {
        types = [];
        // Repeated (type=A&type=B) or comma-separated (type=A,B): the Functions host forwards repeated
        // values joined with commas, so both must mean the same. Type names hold no commas.
        foreach (var raw in values.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries)))
        {
            if (!Text(raw, "type", EventLimits.MaxTypeLength, ref refusal, out var t))
            {
                return false;
            }
            EventCatalog.TryGet(t!, out var canonical, out _);
            if (!types.Contains(canonical, StringComparer.Ordinal))
            {
                types.Add(canonical);
            }
        }
        return types.Count <= AuditQuery.MaxTypes || !Refuse(ref refusal, "type", $"At most {AuditQuery.MaxTypes} 'type' values may be given.");
    }

    private static bool Area(Microsoft.Extensions.Primitives.StringValues values, ref QueryRefusal? refusal, out string? area)
    {
        area = null;
        if (!Text(values, "productArea", 128, ref refusal, out var text))
        {
            return false;
        }
        if (text is null)
        {
            return true;
        }
        area = text.Equals(EventCatalog.UncatalogedArea, StringComparison.OrdinalIgnoreCase)
            ? EventCatalog.UncatalogedArea
            : EventCatalog.FindArea(text)?.Name;
        return area is not null || !Refuse(ref refusal, "productArea", $"'{Clip(text)}' is not a product area. GET /api/event-types lists them.");
    }

    private static bool Limit(Microsoft.Extensions.Primitives.StringValues values, ref QueryRefusal? refusal, out int limit)
    {
        limit = AuditQuery.DefaultLimit;
        if (!Text(values, "limit", 8, ref refusal, out var text))
        {
            return false;
        }
        return text is null
               || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit >= 1 && limit <= AuditQuery.MaxLimit)
               || !Refuse(ref refusal, "limit", $"'limit' must be a whole number from 1 to {AuditQuery.MaxLimit}.");
    }

    private static bool Time(Microsoft.Extensions.Primitives.StringValues values, string name, ref QueryRefusal? refusal, out DateTimeOffset? time)
    {
        time = null;
        if (!Text(values, name, 64, ref refusal, out var text))
        {
            return false;
        }
        if (text is null)
        {
            return true;
        }
        if (!Iso8601.TryParseUtc(text, out var value))
        {
            return !Refuse(ref refusal, name, $"'{name}' must be an ISO 8601 date and time with 'Z' or an offset, for example 2026-11-23T00:00:00Z.");
        }
        time = value;
        return true;
    }

    /// <summary>Absent (null), or present, not blank, within <paramref name="maxLength"/> and free of control characters.</summary>
    private static bool Text(Microsoft.Extensions.Primitives.StringValues values, string name, int maxLength, ref QueryRefusal? refusal, out string? text)
    {
        text = null;
        if (values.Count == 0)
        {
            return true;
        }
        var value = values.ToString();
        if (string.IsNullOrWhiteSpace(value))
        {
            return !Refuse(ref refusal, name, $"'{name}' must not be empty.");
        }
        if (value.Length > maxLength)
        {
            return !Refuse(ref refusal, name, $"'{name}' is longer than {maxLength} characters.");
        }
        if (value.Any(char.IsControl))
        {
            return !Refuse(ref refusal, name, $"'{name}' contains control characters.");
        }
        text = value;
        return true;
    }

    /// <summary>Records the refusal; true, so a check reads "passes or refuses".</summary>
    private static bool Refuse(ref QueryRefusal? refusal, string parameter, string message)
    {
        refusal = new QueryRefusal(parameter, message);
        return true;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
