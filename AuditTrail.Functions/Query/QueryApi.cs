using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Query;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace AuditTrail.Functions.Query;

/// <summary>Reading the trail: filtered pages of a workspace's events, and the event catalog.</summary>
public static class QueryApi
{
    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder app)
    {
        var workspace = app.MapWorkspaceGroup("", "Query", Roles.Owner);

        // A literal segment outranks the {eventId} parameter, so "activity" is never read as an id.
        workspace.MapGet("/audit-events/activity", GetActivityAsync)
            .WithName("GetAuditActivity")
            .WithSummary("Events per UTC day of the filtered view (same filters as listing), every day of its window.")
            .ReadsFilteredView();

        workspace.MapGet("/audit-events/{eventId}", GetAuditEventAsync)
            .WithName("GetAuditEvent")
            .WithSummary("One event of the workspace by its id, in the same form as in a listed page.")
            .AcceptsQueryParameters(QueryParameterRule.None(key => ApiProblem.BadRequest(
                QueryValidationException.InvalidParameter, ApiProblem.InvalidQueryTitle, "This route takes no query parameters.", key)))
            .ProducesProblem(StatusCodes.Status404NotFound);

        workspace
            .MapGet("/audit-events", GetAuditEventsAsync)
            .WithName("ListAuditEvents")
            .WithSummary("A filtered page of the workspace's audit events, newest first.")
            .TakesQuery([.. QueryParameters.Filters, .. QueryParameters.Paging])
            .WithResponseExample(StatusCodes.Status200OK, ListExample)
            .CountsAsCostly(request => QueryParameters.NamesSeveralTypes(request.Query));

        app.MapGet("/api/event-types", () => TypedResults.Ok(EventTypesResponse.From(EventCatalog.Areas)))
            .WithTags("Query")
            .WithName("ListEventTypes")
            .WithSummary("The event catalog: every event type, grouped by product area.");
        return app;
    }

    /// <summary>The event as docs/api.md shows it, with the nextLink a first page of two carries.</summary>
    internal const string ListExample = """
        {"value":[{"id":"evt_1001","workspaceId":"ws_demo","type":"Warehouses Disabled","productArea":"Warehouses",
         "timestamp":"2026-11-23T09:55:09.0000000Z",
         "actor":{"type":"user","id":"usr_42","name":"Ada Lovelace"},
         "resource":{"type":"warehouse","id":"wh_7","name":"Analytics"},
         "changes":[{"field":"enabled","before":true,"after":false}],"source":"api"}],
         "nextLink":"/api/workspaces/ws_demo/audit-events?start=2026-08-25T10%3A00%3A00.0000000Z&end=2026-11-23T10%3A05%3A00.0000000Z&limit=1&continuation=eyJ2IjoxfQ"}
        """;

    private static async Task<Results<EventPageResult, ApiProblem>> GetAuditEventsAsync(string workspaceId, [AsParameters] TrailFilters filters, [AsParameters] PageParameters page,
        HttpRequest request, TrailQueryService queries, ContinuationTokens continuations, TimeProvider time, CancellationToken cancellationToken)
    {
        var (query, refusal) = QueryParameters.Parse(workspaceId, filters, time.GetUtcNow(), page);
        if (query is null)
        {
            return QueryParameters.Problem(refusal!);
        }
        var continuation = new Microsoft.Extensions.Primitives.StringValues(page.Continuation).ToString();
        // A continuation that does not fit the query is Core's to judge; ProblemDetailsMap answers its refusal.
        var from = string.IsNullOrEmpty(continuation) ? null : await continuations.DecodeAsync(continuation, query, cancellationToken);
        var found = await queries.QueryAsync(query, from, cancellationToken);
        string? nextLink = null;
        if (found.Next is not null)
        {
            var token = await continuations.EncodeAsync(found.Next, query, cancellationToken);
            nextLink = NextLink(request, query, token);
        }
        return new EventPageResult(found.Events, nextLink);
    }

    private static async Task<Results<Ok<ActivityResponse>, ApiProblem>> GetActivityAsync(
        string workspaceId, [AsParameters] TrailFilters filters, TrailActivityService activity, TimeProvider time, CancellationToken cancellationToken)
    {
        var (query, refusal) = QueryParameters.Parse(workspaceId, filters, time.GetUtcNow());
        if (query is null)
        {
            return QueryParameters.Problem(refusal!);
        }
        var counts = await activity.CountAsync(query, cancellationToken);
        return TypedResults.Ok(new ActivityResponse(counts.Start, counts.End, counts.Total, counts.Days.Select(d => new ActivityDayView(d.Day, d.Count)).ToList()));
    }

    private static async Task<Results<EventResult, ApiProblem>> GetAuditEventAsync(string workspaceId, string eventId, TrailQueryService queries, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(eventId) || eventId.Length > EventLimits.MaxIdLength || eventId.Any(char.IsControl))
        {
            return ApiProblem.BadRequest(QueryValidationException.InvalidParameter, "Invalid event id",
                $"An event id is 1-{EventLimits.MaxIdLength} characters without control characters.", "eventId");
        }
        // The server keeps an encoded slash (%2F) encoded in a path segment; an id holding "/" is
        // found by its decoded form too (a stored id that literally holds "%2F" is found first).
        var e = await queries.FindAsync(workspaceId, eventId, cancellationToken)
                ?? (eventId.Contains("%2F", StringComparison.OrdinalIgnoreCase)
                    ? await queries.FindAsync(workspaceId, eventId.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase), cancellationToken)
                    : null);
        return e is null
            ? ApiProblem.NotFound("event_not_found", "Event not found", $"This workspace has no event with that id in the last {EventLimits.RetentionDays} days.", "eventId")
            : new EventResult(e);
    }

    /// <summary>The same filters with start and end made explicit, so every page sees the same window.</summary>
    private static string NextLink(HttpRequest request, AuditQuery q, string token)
    {
        var parts = new List<KeyValuePair<string, string?>>
        {
            new("start", q.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
            new("end", q.End.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
        };
        if (q.Types.Count > 0)
        {
            parts.Add(new("type", string.Join(',', q.Types))); // one value: the host would join repeats with commas anyway
        }
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parts.Add(new(name, value));
            }
        }
        Add("productArea", q.ProductArea);
        Add("actorId", q.ActorId);
        Add("actorType", q.ActorType);
        Add("resourceType", q.ResourceType);
        Add("resourceId", q.ResourceId);
        Add("limit", q.Limit.ToString(CultureInfo.InvariantCulture));
        Add("continuation", token);
        // Relative: behind the Functions host the app is reached over plain HTTP on loopback and cannot
        // know the public scheme, and an http:// link would send the bearer token in the clear.
        return $"{request.PathBase}{request.Path}{Microsoft.AspNetCore.Http.QueryString.Create(parts)}";
    }

    /// <summary>Writes <c>{"value":[…],"nextLink":"…"}</c> straight to the response, events in their canonical form.</summary>
    /// <remarks>Declares its shape (<see cref="AuditEventPage"/>) as endpoint metadata, so the OpenAPI document describes it as it describes a typed result.</remarks>
    private sealed class EventPageResult(IReadOnlyList<AuditEvent> events, string? nextLink) : IResult, Microsoft.AspNetCore.Http.Metadata.IEndpointMetadataProvider
    {
        public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder)
        {
            ArgumentNullException.ThrowIfNull(builder);
            builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(AuditEventPage), ["application/json"]));
        }

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            await using var writer = new Utf8JsonWriter(httpContext.Response.Body, AuditTrail.Core.Events.JsonDefaults.Relaxed);
            writer.WriteStartObject();
            writer.WriteStartArray("value");
            for (var i = 0; i < events.Count; i++)
            {
                AuditEventJson.Write(writer, events[i]);
                if (i % 100 == 99)
                {
                    // A full page can reach tens of MB; send it as it is written rather than buffer it whole.
                    await writer.FlushAsync(httpContext.RequestAborted);
                }
            }
            writer.WriteEndArray();
            if (nextLink is not null)
            {
                writer.WriteString("nextLink", nextLink);
            }
            writer.WriteEndObject();
            await writer.FlushAsync(httpContext.RequestAborted);
        }
    }

    /// <summary>One event in its canonical form, as in a listed page (so the page's "Copy JSON" is the API's own text).</summary>
    private sealed class EventResult(AuditEvent e) : IResult, IEndpointMetadataProvider
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            await using var writer = new Utf8JsonWriter(httpContext.Response.Body, AuditTrail.Core.Events.JsonDefaults.Relaxed);
            AuditEventJson.Write(writer, e);
            await writer.FlushAsync(httpContext.RequestAborted);
        }

        public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
            builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(AuditEventView), ["application/json"]));
    }
}

public sealed record EventTypesResponse(IReadOnlyList<ProductArea> Value)
{
    public static EventTypesResponse From(IEnumerable<Core.Events.ProductArea> areas) =>
        new([.. areas.Select(a => new ProductArea(a.Name, a.FormerNames, a.EventTypes))]);
}

/// <summary>A product area of the event catalog: its name, the names it had, its event types.</summary>
public sealed record ProductArea(string Name, IReadOnlyList<string> FormerNames, IReadOnlyList<string> EventTypes);

/// <summary>Who acted (schema of the written event; <see cref="AuditEventJson"/> writes it).</summary>
public sealed record AuditActor(string Type, string Id, string? Name, string? Email);

/// <summary>What was acted on.</summary>
public sealed record AuditResource(string Type, string Id, string? Name);

/// <summary>Where the request came from.</summary>
public sealed record AuditContext(string? Ip, string? UserAgent, string? RequestId);

/// <summary>The activity of a view: its window as applied (start clipped to retention) and one entry per UTC day.</summary>
public sealed record ActivityResponse(DateTimeOffset Start, DateTimeOffset End, long Total, IReadOnlyList<ActivityDayView> Value);

public sealed record ActivityDayView(DateOnly Day, int Count);

/// <summary>One page of events (the shape <c>EventPageResult</c> writes): <c>nextLink</c> absent on the last page.</summary>
public sealed record AuditEventPage(IReadOnlyList<AuditEventView> Value, string? NextLink);

/// <summary>
/// A stored event as the API returns it (written by <see cref="AuditEventJson"/>): the catalog's type
/// spelling and its product area, and <see cref="Source"/>, where it came from.
/// </summary>
public sealed record AuditEventView(
    string Id, string WorkspaceId, string Type, string ProductArea, DateTimeOffset Timestamp,
    AuditActor Actor, AuditResource Resource, AuditContext? Context, IReadOnlyList<AuditChange>? Changes, IReadOnlyDictionary<string, JsonElement>? Properties,
    [property: System.ComponentModel.Description(AuditEventView.SourceDescription)] EventSource? Source)
{
    internal const string SourceDescription =
        "Where the event came from, recorded at ingestion: hub (Event Hubs), api (POST audit-events) or trail (the audit trail's own record of its actions: " +
        "tokens, exports, forwarding settings, digests). Producers cannot set it. Absent only for a stored row without a recorded door, which no version has written.";
}

/// <summary>Where an event came from (<see cref="EventSources"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EventSource>))]
[System.ComponentModel.Description(AuditEventView.SourceDescription)]
public enum EventSource
{
    [JsonStringEnumMemberName(EventSources.Hub)]
    Hub,

    [JsonStringEnumMemberName(EventSources.Api)]
    Api,

    [JsonStringEnumMemberName(EventSources.Trail)]
    Trail,
}

/// <summary>One changed field: its values before and after, any JSON.</summary>
public sealed record AuditChange(string Field, JsonElement? Before, JsonElement? After);
