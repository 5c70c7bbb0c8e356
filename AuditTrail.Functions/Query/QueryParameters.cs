using System.Globalization;
using AuditTrail.Core.Events;
using AuditTrail.Core.Query;

namespace AuditTrail.Functions.Query;

/// <summary>
/// Turns the query string into an <see cref="AuditQuery"/>, refusing anything it does not
/// understand (an unknown parameter is refused too: a misspelt filter must not silently widen the
/// result). The window defaults to the whole retention period and never reaches beyond it.
/// </summary>
public static class QueryParameters
{
    /// <summary>The filters as the OpenAPI document describes them, with the limits <see cref="Parse"/> applies.</summary>
    public static IReadOnlyList<Functions.Hosting.QueryParameterSpec> Filters { get; } =
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
    public static IReadOnlyList<Functions.Hosting.QueryParameterSpec> Paging { get; } =
    [
        new("limit", "Page size.", Minimum: 1, Maximum: AuditQuery.MaxLimit, Default: AuditQuery.DefaultLimit),
        new("continuation", "Only as found in nextLink: it is bound to the filters it was made with."),
    ];

    /// <summary>
    /// Whether the query names more than one event type (repeated or comma-separated, as
    /// <see cref="Parse"/> reads them): such a list cannot use the type index (TrailQueryService.Plan),
    /// so it reads every row of each day and filters them in the app; it is rate-limited as a costly request. Counted before validation; an invalid query is refused anyway.
    /// </summary>
    public static bool NamesSeveralTypes(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return query["type"].SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.OrdinalIgnoreCase).Skip(1).Any();
    }

    public static AuditQuery Parse(string workspaceId, IQueryCollection query, DateTimeOffset now, IReadOnlySet<string> known)
    {
        foreach (var key in query.Keys)
        {
            if (!known.Contains(key))
            {
                throw new QueryValidationException(key, $"Unknown parameter '{Clip(key)}'. Known: {string.Join(", ", known)}.");
            }
        }
        foreach (var key in query.Keys.Where(k => k != "type" && query[k].Count > 1))
        {
            throw new QueryValidationException(key, $"Parameter '{key}' may appear only once.");
        }

        var retentionStart = now.AddDays(-EventLimits.RetentionDays);
        var latest = now + EventLimits.MaxFutureSkew;
        var end = Time(query, "end") ?? latest;
        var start = Time(query, "start") ?? retentionStart;
        if (end > latest)
        {
            end = latest;
        }
        // A start before the retention window is not an error (nothing older is shown; the query
        // service applies the window when it reads), and it is not rewritten here, so a nextLink
        // stays valid while time passes.
        if (start >= end)
        {
            throw new QueryValidationException(query.ContainsKey("start") ? "start" : "end", "'start' must be earlier than 'end' (and 'end' later than the start of the 90-day retention window).");
        }

        var types = new List<string>();
        // Repeated (type=A&type=B) or comma-separated (type=A,B): the Functions host forwards repeated
        // values joined with commas, so both must mean the same. Type names hold no commas.
        foreach (var raw in query["type"].SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries)))
        {
            var t = Text(raw, "type", EventLimits.MaxTypeLength)!;
            EventCatalog.TryGet(t, out var canonical, out _);
            if (!types.Contains(canonical, StringComparer.Ordinal))
            {
                types.Add(canonical);
            }
        }
        if (types.Count > AuditQuery.MaxTypes)
        {
            throw new QueryValidationException("type", $"At most {AuditQuery.MaxTypes} 'type' values may be given.");
        }

        string? area = null;
        if (Text(query["productArea"], "productArea", 128) is { } areaText)
        {
            area = areaText.Equals(EventCatalog.UncatalogedArea, StringComparison.OrdinalIgnoreCase)
                ? EventCatalog.UncatalogedArea
                : EventCatalog.FindArea(areaText)?.Name ?? throw new QueryValidationException("productArea", $"'{Clip(areaText)}' is not a product area. GET /api/event-types lists them.");
        }

        var actorType = Text(query["actorType"], "actorType", 16);
        if (actorType is not null && !ActorTypes.All.Contains(actorType))
        {
            throw new QueryValidationException("actorType", $"'actorType' must be one of {string.Join(", ", ActorTypes.All)}.");
        }

        var limit = AuditQuery.DefaultLimit;
        if (Text(query["limit"], "limit", 8) is { } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > AuditQuery.MaxLimit))
        {
            throw new QueryValidationException("limit", $"'limit' must be a whole number from 1 to {AuditQuery.MaxLimit}.");
        }

        return new AuditQuery(
            workspaceId, start, end, types, area,
            Text(query["actorId"], "actorId", EventLimits.MaxIdLength),
            actorType,
            Text(query["resourceType"], "resourceType", EventLimits.MaxTypeLength),
            Text(query["resourceId"], "resourceId", EventLimits.MaxIdLength),
            limit);
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name)
    {
        var text = Text(query[name], name, 64);
        if (text is null)
        {
            return null;
        }
        if (!Iso8601.TryParseUtc(text, out var value))
        {
            throw new QueryValidationException(name, $"'{name}' must be an ISO 8601 date and time with 'Z' or an offset, for example 2026-11-23T00:00:00Z.");
        }
        return value;
    }

    private static string? Text(Microsoft.Extensions.Primitives.StringValues values, string name, int maxLength)
    {
        var value = values.ToString();
        if (values.Count == 0)
        {
            return null;
        }
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new QueryValidationException(name, $"'{name}' must not be empty.");
        }
        if (value.Length > maxLength)
        {
            throw new QueryValidationException(name, $"'{name}' is longer than {maxLength} characters.");
        }
        if (value.Any(char.IsControl))
        {
            throw new QueryValidationException(name, $"'{name}' contains control characters.");
        }
        return value;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
