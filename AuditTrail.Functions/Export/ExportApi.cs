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

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var exports = app.MapWorkspaceGroup("/exports", "Export", Roles.Owner);

        exports.MapPost("/", CreateAsync)
            .WithName("CreateExport")
            .WithSummary("Queue a CSV export of the filtered trail (same filters as listing); answers 202 with its status address.")
            .ReadsFilteredView();

        exports.MapGet("/{exportId}", GetAsync)
            .WithName("GetExport")
            .WithSummary("An export's status and rows written so far; once it succeeded, a fresh download link.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);

        return app;
    }

    private static async Task<Results<Accepted<ExportResponse>, ApiProblem>> CreateAsync(string workspaceId, Caller caller, [AsParameters] TrailFilters filters,
        HttpResponse response, ExportService exports, WorkspaceRateLimits limits, TimeProvider time, CancellationToken cancellationToken)
    {
        var (query, refusal) = QueryParameters.Parse(workspaceId, filters, time.GetUtcNow());
        if (query is null)
        {
            return QueryParameters.Problem(refusal!);
        }
        // Bounded per workspace: each unfinished export is a worker reading the whole window.
        var info = await limits.CreateExportAsync(workspaceId,
            ct => exports.CountUnfinishedAsync(workspaceId, ct),
            ct => exports.CreateAsync(query, new ExportActor("token", caller.TokenId, caller.Name), ct), cancellationToken);
        response.Headers.RetryAfter = PollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Accepted($"/api/workspaces/{workspaceId}/exports/{info.Id}", ExportResponse.From(info));
    }

    private static async Task<Results<Ok<ExportResponse>, ApiProblem>> GetAsync(
        string workspaceId, string exportId, HttpResponse response, ExportService exports, CancellationToken cancellationToken)
    {
        var info = await exports.GetAsync(workspaceId, exportId, cancellationToken);
        if (info is null)
        {
            return ApiProblem.NotFound("export_not_found", "Export not found", "This workspace has no export with that id.", "exportId");
        }
        if (info.Expired)
        {
            return new ApiProblem(StatusCodes.Status410Gone, "export_expired", "Export expired",
                $"Exports are kept {ExportService.KeepDays} days; this one expired at {info.ExpiresAt:u}. Create a new one.");
        }
        if (!ExportStatus.IsFinal(info.Status))
        {
            response.Headers.RetryAfter = PollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return TypedResults.Ok(ExportResponse.From(info));
    }
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
