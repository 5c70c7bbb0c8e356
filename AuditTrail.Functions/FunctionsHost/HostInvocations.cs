using System.Text.Json;
using AuditTrail.Core.Export;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Export;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Retention;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>
/// The five non-HTTP functions of <c>functions/</c> as the Functions host invokes a custom handler:
/// a POST to <c>/{FunctionName}</c> whose answer is <see cref="InvocationResponse"/>. A 2xx answer
/// settles the trigger (checkpoint, message deleted); any other fails the invocation, so the host's
/// own retry (and, for queues, poison) rules run. Mapped only under the host (or when a test asks).
/// </summary>
public static class HostInvocations
{
    public static IEndpointRouteBuilder MapHostInvocations(this IEndpointRouteBuilder app)
    {
        if (!app.ServiceProvider.GetRequiredService<HostingSettings>().InvocationEndpoints)
        {
            return app;
        }
        var host = app.MapGroup("").ExcludeFromDescription();
        host.MapPost("/" + IngestionApi.EventHubFunction, IngestEventHubBatchAsync);
        host.MapPost("/" + ForwardingApi.QueueFunction, ForwardAsync);
        host.MapPost("/" + ExportApi.QueueFunction, ExportAsync);
        // The timer payloads carry nothing the seal or the purge needs (IsPastDue only says it runs late), so they are not read.
        host.MapPost("/" + IntegrityApi.TimerFunction, SealAsync);
        host.MapPost("/" + RetentionApi.TimerFunction, PurgeAsync);
        return app;
    }

    /// <summary>The one answer to an invocation: one log line for the host's log, the function's return value, the status that settles or fails it.</summary>
    internal static JsonHttpResult<InvocationResponse> Answer(string log, IngestResponse? returnValue = null, int status = StatusCodes.Status200OK) =>
        TypedResults.Json(new InvocationResponse(new Dictionary<string, JsonElement>(), [log], returnValue), AuditTrailJsonContext.Default.InvocationResponse, statusCode: status);

    /// <summary>
    /// The Event Hubs trigger. A payload that cannot be read is dead-lettered whole and acknowledged,
    /// so one bad payload cannot stall the partition; a storage failure answers non-2xx, which fails
    /// the invocation so the host's retry policy runs before any checkpoint moves past the batch; a
    /// failure that repeats for another reason ends in the dead letters too (<see cref="BatchPoisonPolicy"/>).
    /// </summary>
    private static async Task<JsonHttpResult<InvocationResponse>> IngestEventHubBatchAsync(
        HttpRequest request, IngestionService ingestion, BatchPoisonPolicy batches, CancellationToken cancellationToken)
    {
        var context = new IngestContext(IngestDoors.EventHub, null, InvocationPayload.InvocationId(request));
        var payload = await RequestBody.ReadAsync(request, HttpLimits.MaxInvocationBodyBytes, cancellationToken);
        // Kept whole and acknowledged: a payload that cannot be split into events would fail the same
        // way on every try, and the host retries without end.
        async Task<JsonHttpResult<InvocationResponse>> UnreadableAsync(string reason, string log)
        {
            var blob = await ingestion.DeadLetterUnreadableAsync(payload, RejectionCodes.MalformedInvocation, reason, context, cancellationToken);
            return Answer($"{log} Kept as audit-deadletter/{blob}.");
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
            var (batch, reason, log) = ReadBatch(document.RootElement);
            if (batch is null)
            {
                return await UnreadableAsync(reason!, log!);
            }
            var outcome = await batches.IngestAsync(batch.Events, payload, batch.Attempt, context, cancellationToken);
            return outcome.Result is { } result
                ? Answer(EventHubInvocationReader.Describe(result), IngestResponse.From(result))
                : Answer($"{outcome.Reason} Kept whole as audit-deadletter/{outcome.DeadLetterBlob}.");
        }
    }

    /// <summary>The batch, or why the payload cannot be split into events (for the dead letter, and for the host's log).</summary>
    private static (EventHubInvocationReader.Batch? Batch, string? Reason, string? Log) ReadBatch(JsonElement root)
    {
        EventHubInvocationReader.Batch batch;
        try
        {
            batch = EventHubInvocationReader.ReadEventBatch(root, IngestionApi.EventHubBinding);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A shape the reader did not foresee.
            return (null, $"The invocation payload could not be split into events: {ex.Message}", "Invocation payload could not be split into events.");
        }
        return batch.Error is null ? (batch, null, null) : (null, batch.Error, batch.Error);
    }

    /// <summary>
    /// The forward queue's trigger. 2xx means the message is done (delivered, forwarding off, refused
    /// for good, or unreadable and dead-lettered); a transient failure answers 500, so the host makes
    /// the message visible again and poisons it after maxDequeueCount.
    /// </summary>
    private static async Task<JsonHttpResult<InvocationResponse>> ForwardAsync(HttpRequest request, EventForwarder forwarder, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (invocation, bytes) = await QueueInvocationReader.ReadQueueInvocationAsync(request, ForwardingApi.QueueBinding, cancellationToken);
        try
        {
            var result = invocation.MessageText is null
                ? await forwarder.DeadLetterAsync(System.Text.Encoding.UTF8.GetString(bytes), invocation.Error!, cancellationToken)
                : await forwarder.ForwardAsync(invocation.MessageText, invocation.DequeueCount, cancellationToken);
            return Answer(result.Summary);
        }
        catch (ForwardingTransientException ex)
        {
            loggers.CreateLogger(typeof(ForwardingApi)).LogWarning("Forward message {MessageId} failed on try {DequeueCount}; the host will retry: {Reason}",
                invocation.MessageId, invocation.DequeueCount, ex.Message);
            return Answer(ex.Message, status: StatusCodes.Status500InternalServerError);
        }
    }

    /// <summary>
    /// The export queue's trigger. 2xx means the message is done (a run finished, handed the rest of
    /// a long export to a new message, or found nothing to do); a failure answers 500, so the host
    /// makes the message visible again and poisons it after maxDequeueCount (the run on the last try
    /// has failed the export with its reason by then).
    /// </summary>
    private static async Task<JsonHttpResult<InvocationResponse>> ExportAsync(HttpRequest request, ExportWorker worker, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (invocation, bytes) = await QueueInvocationReader.ReadQueueInvocationAsync(request, ExportApi.QueueBinding, cancellationToken);
        try
        {
            return Answer(await worker.RunAsync(invocation.MessageText ?? System.Text.Encoding.UTF8.GetString(bytes), invocation.DequeueCount, cancellationToken));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            loggers.CreateLogger(typeof(ExportApi)).LogWarning(ex, "Export message {MessageId} failed on try {DequeueCount}; the host will retry",
                invocation.MessageId, invocation.DequeueCount);
            return Answer(StorageFailures.Describe(ex), status: StatusCodes.Status500InternalServerError);
        }
    }

    /// <summary>The hourly seal. A run that failed some workspace fails the invocation, so the host's own failure count and alerts see it; the other workspaces are sealed all the same.</summary>
    private static async Task<JsonHttpResult<InvocationResponse>> SealAsync(DigestSealer sealer, CancellationToken cancellationToken)
    {
        var report = await sealer.SealAsync(null, cancellationToken);
        return Answer(IntegrityCommand.Describe(report), status: report.Succeeded ? StatusCodes.Status200OK : StatusCodes.Status500InternalServerError);
    }

    private static async Task<JsonHttpResult<InvocationResponse>> PurgeAsync(RetentionService retention, CancellationToken cancellationToken) =>
        Answer(RetentionCommand.Describe(await retention.PurgeAsync(dryRun: false, cancellationToken)));
}

/// <summary>The custom-handler response shape the host expects: outputs by binding name, log lines, return value.</summary>
public sealed record InvocationResponse(
    [property: System.Text.Json.Serialization.JsonPropertyName("Outputs")] IReadOnlyDictionary<string, JsonElement> Outputs,
    [property: System.Text.Json.Serialization.JsonPropertyName("Logs")] IReadOnlyList<string> Logs,
    [property: System.Text.Json.Serialization.JsonPropertyName("ReturnValue")] IngestResponse? ReturnValue);
