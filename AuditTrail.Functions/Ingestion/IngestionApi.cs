using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Ingestion;

/// <summary>
/// The HTTP ingestion door: parses the payload, calls <see cref="IngestionService"/> and maps its
/// result; nothing else happens here. The Event Hubs door is a host invocation (<see cref="FunctionsHost.HostInvocations"/>).
/// </summary>
public static class IngestionApi
{
    /// <summary>The Event Hubs-triggered function's name: its folder, and the path the host POSTs to (<see cref="FunctionsHost.HostInvocations"/>).</summary>
    public const string EventHubFunction = "IngestAuditEvents";

    /// <summary>The trigger binding's name in its function.json.</summary>
    public const string EventHubBinding = "events";

    public static IEndpointRouteBuilder MapIngestionApi(this IEndpointRouteBuilder app)
    {
        var workspace = app.MapWorkspaceGroup("", "Ingestion", Roles.Owner, Roles.Ingest);

        workspace.MapPost("/audit-events", PostAuditEventsAsync)
            .WithName("PostAuditEvents")
            .Accepts<IReadOnlyList<AuditEventInput>>("application/json")
            .WithSummary($"Store a batch of up to {HttpLimits.MaxEventsPerRequest} audit events, at most 4 MiB (owner or ingest token). The event's JSON Schema: GET /api/schemas/audit-event.json.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithRequestExample("""
                [{"id":"evt_1001","type":"Warehouses Disabled","timestamp":"2026-11-23T09:55:09Z",
                  "actor":{"type":"user","id":"usr_42","name":"Ada Lovelace"},"resource":{"type":"warehouse","id":"wh_7","name":"Analytics"},
                  "changes":[{"field":"enabled","before":true,"after":false}]},
                 {"id":"evt_1002","type":"Source Modified","timestamp":"2026-11-23T10:55:09Z",
                  "actor":{"type":"token","id":"tok_ci"},"resource":{"type":"source","id":"src_web","name":"Website"}}]
                """)
            .WithResponseExample(StatusCodes.Status200OK, """{"received":2,"accepted":2,"duplicates":0,"rejectedCount":0,"rejected":[],"uncatalogedTypes":[]}""");

        return app;
    }

    private static async Task<Results<Ok<IngestResponse>, ApiProblem>> PostAuditEventsAsync(string workspaceId, HttpRequest request, IngestionService ingestion, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadJsonAsync(request, "the events as a JSON array", HttpLimits.MaxIngestBodyBytes, cancellationToken);
        using var body = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        if (body.RootElement.ValueKind != JsonValueKind.Array)
        {
            return ApiProblem.BadRequest("not_an_array", "Body must be an array", "The request body must be a JSON array of audit events, even for a single event.");
        }
        var count = body.RootElement.GetArrayLength();
        if (count > HttpLimits.MaxEventsPerRequest)
        {
            return new ApiProblem(StatusCodes.Status413PayloadTooLarge, "too_many_events", "Too many events",
                $"A request may carry at most {HttpLimits.MaxEventsPerRequest} events; this one has {count}. Split it into several requests.");
        }
        var events = body.RootElement.EnumerateArray().Select(e => RawEvent.FromJson(e)).ToList();
        var result = await ingestion.IngestAsync(events, new IngestContext(IngestDoors.Http, workspaceId, request.HttpContext.TraceIdentifier), cancellationToken);
        return TypedResults.Ok(IngestResponse.From(result));
    }
}

/// <summary>
/// One event as a producer sends it, for the OpenAPI document (the reader,
/// <see cref="AuditEventReader"/>, reads the JSON itself; schemas/audit-event.json states its rules).
/// </summary>
public sealed record AuditEventInput(
    string Id, string? WorkspaceId, string Type, string Timestamp,
    Query.AuditActor Actor, Query.AuditResource Resource, Query.AuditContext? Context,
    IReadOnlyList<Query.AuditChange>? Changes, IReadOnlyDictionary<string, JsonElement>? Properties);

/// <summary>The answer to an ingest request. Every event is counted once: accepted, duplicate or rejected.</summary>
public sealed record IngestResponse(int Received, int Accepted, int Duplicates, int RejectedCount, IReadOnlyList<IngestRejection> Rejected, IReadOnlyList<string> UncatalogedTypes)
{
    public static IngestResponse From(IngestResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Received, r.Accepted, r.Duplicates, r.Rejected.Count,
            [.. r.Rejected.Select(x => new IngestRejection(x.Index, x.Code, x.Reason, x.Field, x.EventId, x.WorkspaceId))], r.UncatalogedTypes);
    }
}

/// <summary>One event the trail refused: its index in the batch, a stable code, why, and the field and ids when known.</summary>
public sealed record IngestRejection(int Index, string Code, string Reason, string? Field = null, string? EventId = null, string? WorkspaceId = null);
