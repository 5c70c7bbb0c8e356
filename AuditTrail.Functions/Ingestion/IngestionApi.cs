using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Mvc;

namespace AuditTrail.Functions.Ingestion;

/// <summary>
/// The two ingestion doors. Both parse their payload, call <see cref="IngestionService"/> and map
/// its result; nothing else happens here.
/// </summary>
public static class IngestionApi
{
    /// <summary>The Event Hubs-triggered function's name: its folder, and the path the host POSTs to.</summary>
    public const string EventHubFunction = "IngestAuditEvents";

    /// <summary>The trigger binding's name in its function.json.</summary>
    public const string EventHubBinding = "events";

    public static IEndpointRouteBuilder MapIngestionApi(this IEndpointRouteBuilder app)
    {
        var workspace = app.MapGroup("/api/workspaces/{workspaceId}")
            .RequireWorkspaceRole(Roles.Owner, Roles.Ingest)
            .WithTags("Ingestion");

        workspace.MapPost("/audit-events", PostAuditEventsAsync)
            .WithName("PostAuditEvents")
            .Accepts<IReadOnlyList<AuditEventInput>>("application/json")
            .Produces<IngestResponse>()
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

        var hosting = app.ServiceProvider.GetRequiredService<HostingSettings>();
        if (hosting.InvocationEndpoints)
        {
            app.MapPost("/" + EventHubFunction, InvokeEventHubAsync).ExcludeFromDescription();
        }
        return app;
    }

    private static async Task<IResult> PostAuditEventsAsync(string workspaceId, HttpRequest request, IngestionService ingestion, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadJsonAsync(request, "the events as a JSON array", HttpLimits.MaxIngestBodyBytes, cancellationToken);
        using var body = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        if (body.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new ProblemException(StatusCodes.Status400BadRequest, "not_an_array", "Body must be an array",
                "The request body must be a JSON array of audit events, even for a single event.");
        }
        var count = body.RootElement.GetArrayLength();
        if (count > HttpLimits.MaxEventsPerRequest)
        {
            throw new ProblemException(StatusCodes.Status413PayloadTooLarge, "too_many_events", "Too many events",
                $"A request may carry at most {HttpLimits.MaxEventsPerRequest} events; this one has {count}. Split it into several requests.");
        }
        var events = body.RootElement.EnumerateArray().Select(e => RawEvent.FromJson(e)).ToList();
        var result = await ingestion.IngestAsync(events, new IngestContext(IngestDoors.Http, workspaceId, request.HttpContext.TraceIdentifier), cancellationToken);
        return TypedResults.Ok(IngestResponse.From(result));
    }

    /// <summary>
    /// The Event Hubs trigger, as the host invokes a custom handler. A payload that cannot be read
    /// is dead-lettered whole and acknowledged, so one bad payload cannot stall the partition; a
    /// storage failure answers non-2xx, which fails the invocation so the host's retry policy runs
    /// before any checkpoint moves past the batch; a failure that repeats for another reason ends
    /// in the dead letters too (<see cref="EventHubBatches"/>). The payload is read from its bytes.
    /// </summary>
    private static async Task<IResult> InvokeEventHubAsync(HttpRequest request, IngestionService ingestion, EventHubBatches batches, CancellationToken cancellationToken)
    {
        var context = new IngestContext(IngestDoors.EventHub, null, HostInvocation.InvocationId(request));
        var payload = await RequestBody.ReadAsync(request, HttpLimits.MaxInvocationBodyBytes, cancellationToken);
        // Kept whole and acknowledged: a payload that cannot be split into events would fail the same
        // way on every try, and the host retries without end.
        async Task<IResult> UnreadableAsync(string reason, string log)
        {
            var blob = await ingestion.DeadLetterUnreadableAsync(payload, RejectionCodes.MalformedInvocation, reason, context, cancellationToken);
            return Invocation([$"{log} Kept as audit-deadletter/{blob}."], null);
        }
        JsonDocument document;
        try
        {
            document = System.Text.Unicode.Utf8.IsValid(payload)
                ? JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 64 })
                // Never from the host, which sends valid UTF-8: read leniently (U+FFFD), so the valid
                // events of such a batch are still stored and only the damaged ones dead-lettered.
                : JsonDocument.Parse(System.Text.Encoding.UTF8.GetString(payload), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            return await UnreadableAsync($"The invocation payload is not valid JSON: {ex.Message}", "Invocation payload was not JSON.");
        }
        using (document)
        {
            HostInvocation.Batch batch;
            try
            {
                batch = HostInvocation.ReadEventBatch(document.RootElement, EventHubBinding);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A shape the reader did not foresee.
                return await UnreadableAsync($"The invocation payload could not be split into events: {ex.Message}", "Invocation payload could not be split into events.");
            }
            if (batch.Error is not null)
            {
                return await UnreadableAsync(batch.Error, batch.Error);
            }
            var outcome = await batches.IngestAsync(batch.Events, payload, batch.Attempt, context, cancellationToken);
            return outcome.Result is { } result
                ? Invocation([HostInvocation.Describe(result)], IngestResponse.From(result))
                : Invocation([$"{outcome.Reason} Kept whole as audit-deadletter/{outcome.DeadLetterBlob}."], null);
        }
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<InvocationResponse> Invocation(IReadOnlyList<string> logs, IngestResponse? returnValue) =>
        TypedResults.Json(new InvocationResponse(new Dictionary<string, JsonElement>(), logs, returnValue), AuditTrailJsonContext.Default.InvocationResponse);
}

/// <summary>
/// One event as a producer sends it, for the OpenAPI document (the reader,
/// <see cref="AuditEventReader"/>, reads the JSON itself; schemas/audit-event.json states its rules).
/// </summary>
public sealed record AuditEventInput(
    string Id, string? WorkspaceId, string Type, string Timestamp,
    Core.Events.AuditActor Actor, Core.Events.AuditResource Resource, Core.Events.AuditContext? Context,
    IReadOnlyList<Query.AuditChange>? Changes, IReadOnlyDictionary<string, JsonElement>? Properties);

/// <summary>The answer to an ingest request. Every event is counted once: accepted, duplicate or rejected.</summary>
public sealed record IngestResponse(int Received, int Accepted, int Duplicates, int RejectedCount, IReadOnlyList<IngestRejection> Rejected, IReadOnlyList<string> UncatalogedTypes)
{
    public static IngestResponse From(IngestResult r) => new(r.Received, r.Accepted, r.Duplicates, r.Rejected.Count, r.Rejected, r.UncatalogedTypes);
}

/// <summary>The custom-handler response shape the host expects: outputs by binding name, log lines, return value.</summary>
public sealed record InvocationResponse(
    [property: System.Text.Json.Serialization.JsonPropertyName("Outputs")] IReadOnlyDictionary<string, JsonElement> Outputs,
    [property: System.Text.Json.Serialization.JsonPropertyName("Logs")] IReadOnlyList<string> Logs,
    [property: System.Text.Json.Serialization.JsonPropertyName("ReturnValue")] IngestResponse? ReturnValue);
