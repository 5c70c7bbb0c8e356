using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Query;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Export;

/// <summary>
/// CSV export of a filtered view: asked for with the query API's filters, answered at once (202)
/// with the export's status address; the work runs from queue <c>audit-export</c> in the queue
/// function <c>ExportAuditEvents</c>, so no export is bound by an HTTP time limit.
/// </summary>
public static class ExportApi
{
    /// <summary>The queue-triggered function's name: its folder, and the path the host POSTs to.</summary>
    public const string QueueFunction = "ExportAuditEvents";

    /// <summary>The trigger binding's name in its function.json.</summary>
    public const string QueueBinding = "message";

    /// <summary>What the 202 and an unfinished status suggest as the wait before the next look, in seconds.</summary>
    public const int PollSeconds = 2;

    private static readonly HashSet<string> Parameters = new(StringComparer.Ordinal)
    {
        "start", "end", "type", "productArea", "actorId", "actorType", "resourceType", "resourceId",
    };

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var exports = app.MapGroup("/api/workspaces/{workspaceId}/exports")
            .RequireWorkspaceRole(Roles.Owner)
            .WithTags("Export");

        exports.MapPost("/", CreateAsync)
            .WithName("CreateExport")
            .WithSummary("Queue a CSV export of the filtered trail (same filters as listing); answers 202 with its status address.")
            .WithQueryParameters(QueryParameters.Filters)
            .CountsAsCostly();

        exports.MapGet("/{exportId}", GetAsync)
            .WithName("GetExport")
            .WithSummary("An export's status and rows written so far; once it succeeded, a fresh download link.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);

        if (app.ServiceProvider.GetRequiredService<HostingSettings>().InvocationEndpoints)
        {
            app.MapPost("/" + QueueFunction, InvokeAsync).ExcludeFromDescription();
        }
        return app;
    }

    private static async Task<Accepted<ExportResponse>> CreateAsync(
        string workspaceId, Caller caller, HttpRequest request, ExportService exports, WorkspaceRateLimits limits, TimeProvider time, CancellationToken cancellationToken)
    {
        AuditQuery query;
        try
        {
            query = QueryParameters.Parse(workspaceId, request.Query, time.GetUtcNow(), Parameters);
        }
        catch (QueryValidationException ex)
        {
            throw new ProblemException(StatusCodes.Status400BadRequest, ex.Code, "Invalid query parameter", ex.Message, ex.Parameter);
        }
        // Bounded per workspace: each unfinished export is a worker reading the whole window.
        var info = await limits.CreateExportAsync(workspaceId,
            ct => exports.CountUnfinishedAsync(workspaceId, ct),
            ct => exports.CreateAsync(query, new ExportActor("token", caller.TokenId, caller.Name), ct), cancellationToken);
        request.HttpContext.Response.Headers.RetryAfter = PollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Accepted($"/api/workspaces/{workspaceId}/exports/{info.Id}", ExportResponse.From(info));
    }

    private static async Task<Ok<ExportResponse>> GetAsync(string workspaceId, string exportId, HttpContext context, ExportService exports, CancellationToken cancellationToken)
    {
        var info = await exports.GetAsync(workspaceId, exportId, cancellationToken)
                   ?? throw new ProblemException(StatusCodes.Status404NotFound, "export_not_found", "Export not found", "This workspace has no export with that id.", "exportId");
        if (info.Expired)
        {
            throw new ProblemException(StatusCodes.Status410Gone, "export_expired", "Export expired",
                $"Exports are kept {ExportService.KeepDays} days; this one expired at {info.ExpiresAt:u}. Create a new one.");
        }
        if (!ExportStatus.IsFinal(info.Status))
        {
            context.Response.Headers.RetryAfter = PollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return TypedResults.Ok(ExportResponse.From(info));
    }

    /// <summary>
    /// The queue trigger. 2xx means the message is done (a run finished, handed the rest of a long
    /// export to a new message, or found nothing to do); a failure answers 500, which fails the
    /// invocation so the host makes the message visible again and poisons it after maxDequeueCount
    /// (the run on the last try has failed the export with its reason by then).
    /// </summary>
    private static async Task<JsonHttpResult<InvocationResponse>> InvokeAsync(HttpRequest request, ExportWorker worker, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (invocation, bytes) = await HostInvocation.ReadQueueInvocationAsync(request, QueueBinding, cancellationToken);
        try
        {
            var summary = await worker.RunAsync(invocation.MessageText ?? System.Text.Encoding.UTF8.GetString(bytes), invocation.DequeueCount, cancellationToken);
            return Invocation(StatusCodes.Status200OK, summary);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            loggers.CreateLogger(typeof(ExportApi)).LogWarning(ex, "Export message {MessageId} failed on try {DequeueCount}; the host will retry",
                invocation.MessageId, invocation.DequeueCount);
            return Invocation(StatusCodes.Status500InternalServerError, StorageFailures.Describe(ex));
        }
    }

    private static JsonHttpResult<InvocationResponse> Invocation(int status, string log) => TypedResults.Json(
        new InvocationResponse(new Dictionary<string, JsonElement>(), [log], null), AuditTrailJsonContext.Default.InvocationResponse, statusCode: status);
}

/// <summary>An export's status: queued, running, succeeded or failed; rows written so far; the link once succeeded; the reason once failed.</summary>
public sealed record ExportResponse(string Id, string Status, long RowCount, long ByteSize, string FileName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? CompletedAt, string? DownloadUrl, DateTimeOffset? DownloadUrlExpiresAt, string? FailureReason)
{
    public static ExportResponse From(ExportInfo i)
    {
        ArgumentNullException.ThrowIfNull(i);
        return new(i.Id, i.Status, i.RowCount, i.ByteSize, i.FileName, i.CreatedAt, i.ExpiresAt, i.CompletedAt, i.DownloadUrl?.ToString(), i.DownloadUrlExpiresAt, i.FailureReason);
    }
}

/// <summary>
/// Standalone mode's stand-in for the queue trigger <c>ExportAuditEvents</c>: polls
/// <c>audit-export</c> with the host's rules (<see cref="StandaloneQueuePoller"/>) and hands each
/// message to the same <see cref="ExportWorker"/>.
/// </summary>
public sealed class StandaloneExporter(ExportService exports, ExportWorker worker, Microsoft.Extensions.Options.IOptions<ExportOptions> options, TimeProvider time, ILogger<StandaloneExporter> logger)
    : StandaloneQueuePoller(exports.Queue, exports.PoisonQueue, time, logger)
{
    protected override QueueTriggerOptions Polling => options.Value;

    protected override string FunctionName => ExportApi.QueueFunction;

    protected override Task EnsureCreatedAsync(CancellationToken cancellationToken) => exports.EnsureCreatedAsync(cancellationToken);

    protected override async Task HandleAsync(string messageText, long dequeueCount, CancellationToken cancellationToken) =>
        await worker.RunAsync(messageText, dequeueCount, cancellationToken);
}

public static class StandaloneExporterExtensions
{
    /// <summary>Polls the export queue in-process when there is no Functions host (unless <c>AuditTrail:Export:PollQueue</c> is false).</summary>
    public static IServiceCollection AddStandaloneExporter(this IServiceCollection services, IConfiguration configuration, HostingMode mode)
        => services.AddStandaloneQueuePoller<StandaloneExporter>(configuration, ExportOptions.Section, mode);
}
